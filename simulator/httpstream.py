"""A small HTTP/1.1 client for streamed responses, built on asyncio protocols.

The load generator needs to read thousands of server-sent events per second on one core; a
protocol that parses the response as it arrives (no task wake-up per chunk) costs a few
microseconds per event where a general-purpose client costs tens. It speaks just what the
OpenAI-compatible servers use: POST, keep-alive, chunked or Content-Length bodies, http and https.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

BodyFn = Callable[[bytes, float], None]  # (body bytes, perf_counter time they arrived)
MAX_ERROR_BODY = 65_536


class ConnectError(OSError):
    """The server could not be reached (refused, unknown host, TLS failure)."""


@dataclass(frozen=True)
class Target:
    """Where requests go: host, port, TLS, and the path of the endpoint."""

    host: str
    port: int
    tls: bool
    path: str
    bearer_token: str | None = None  # sent as "Authorization: Bearer ..." (vLLM --api-key, OpenAI)

    @classmethod
    def parse(cls, url: str, *, bearer_token: str | None = None) -> Target:
        """Split an http(s) URL.

        Raises:
            ValueError: not an http(s) URL with a host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if bearer_token is not None and any(c in bearer_token for c in "\r\n"):
            raise ValueError("the API key must be one line")
        return cls(parts.hostname, port, parts.scheme == "https", parts.path or "/", bearer_token)

    def request_head(self, content_length: int) -> bytes:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        auth = f"Authorization: Bearer {self.bearer_token}\r\n" if self.bearer_token else ""
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: {host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\n{auth}Content-Length: {content_length}\r\n\r\n"
        ).encode()


class _Conn(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time as its bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[tuple[int, bool]] | None = None
        self.on_body: BodyFn | None = None
        self.status = 0
        self.error_body = bytearray()
        self._buf = b""
        self._state = "idle"  # idle | head | chunked | length | close
        self._left = 0
        self._keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == "close":
            self._finish()
        elif self.done is not None and not self.done.done():
            self.done.set_exception(
                ConnectionResetError(f"the server closed the connection ({exc or 'EOF'})")
            )

    def send(self, data: bytes, on_body: BodyFn) -> asyncio.Future[tuple[int, bool]]:
        """Write a request; the future gives (status, reusable) once the response has ended."""
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.done = asyncio.get_running_loop().create_future()
        self.on_body, self.status, self._state, self._buf = on_body, 0, "head", b""
        self.error_body = bytearray()
        self.transport.write(data)
        return self.done

    def data_received(self, data: bytes) -> None:
        try:
            self._parse(data, time.perf_counter())
        except ValueError as exc:  # a malformed status line, length or chunk size
            self._state, self._keep_alive = "idle", False
            if self.done is not None and not self.done.done():
                self.done.set_exception(ConnectionResetError(f"malformed HTTP response: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def _parse(self, data: bytes, now: float) -> None:
        buf = self._buf + data if self._buf else data
        self._buf = b""
        if self._state == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            self._head(buf[:end])
            buf = buf[end + 4 :]
        if self._state == "chunked":
            self._chunks(buf, now)
        elif self._state == "length":
            take = buf[: self._left]
            self._left -= len(take)
            self._body(take, now)
            if self._left == 0:
                self._finish()
        elif self._state == "close":
            self._body(buf, now)

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        self._keep_alive = parts[0] == b"HTTP/1.1" and headers.get(b"connection") != b"close"
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            self._state = "chunked"
        elif b"content-length" in headers:
            self._left = int(headers[b"content-length"])
            self._state = "length"
            if self._left == 0:
                self._finish()
        else:
            self._state, self._keep_alive = "close", False

    def _chunks(self, buf: bytes, now: float) -> None:
        pos = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
            if size == 0:
                if buf.find(b"\r\n", eol + 2) < 0:
                    break  # wait for the end of the (empty) trailer section
                self._finish()
                return
            if len(buf) < eol + 2 + size + 2:
                break
            self._body(buf[eol + 2 : eol + 2 + size], now)
            pos = eol + 2 + size + 2
        self._buf = buf[pos:]

    def _body(self, data: bytes, now: float) -> None:
        if self.status == 200 and self.on_body is not None:
            self.on_body(data, now)
        elif len(self.error_body) < MAX_ERROR_BODY:
            self.error_body += data

    def _finish(self) -> None:
        self._state = "idle"
        if self.done is not None and not self.done.done():
            self.done.set_result((self.status, self._keep_alive))


class Pool:
    """Keep-alive connections to one server, opened as needed (no upper limit: the caller bounds it)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._idle: list[_Conn] = []
        self._ssl = ssl.create_default_context() if target.tls else None

    async def post(self, body: bytes, on_body: BodyFn) -> tuple[int, bytes]:
        """POST body; streamed 200 bodies go to on_body, others come back as (status, body).

        Raises:
            ConnectError: the server cannot be reached.
            ConnectionResetError: the connection broke mid-response.
        """
        conn = await self._acquire()
        reusable = False
        try:
            status, reusable = await conn.send(self.target.request_head(len(body)) + body, on_body)
            return status, bytes(conn.error_body)
        finally:
            if reusable and conn.transport is not None and not conn.transport.is_closing():
                self._idle.append(conn)
            elif conn.transport is not None:
                conn.transport.close()

    async def _acquire(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                return conn
        loop = asyncio.get_running_loop()
        t = self.target
        try:
            transport, conn = await loop.create_connection(_Conn, t.host, t.port, ssl=self._ssl)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"cannot connect to {t.host}:{t.port}: {exc}") from exc
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def close(self) -> None:
        """Close the idle connections."""
        for conn in self._idle:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()
