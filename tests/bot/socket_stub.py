"""Slack's side of Socket Mode over loopback, speaking the real protocol to the real slack_sdk client.

`SocketModeSlackStub` is the Web API stub (`SlackStub`) plus `apps.connections.open`: called with the
app-level token (`Authorization: Bearer xapp-…`) it answers `{"ok": true, "url": "ws://127.0.0.1:<port>/
link/?ticket=…"}`; a missing token gets `not_authed`, a bot token `not_allowed_token_type`, any other
token `invalid_auth`, as Slack answers. `SocketModeServer` is the WebSocket endpoint behind that URL
(aiohttp): it accepts each ticket once (a reconnect must ask `apps.connections.open` again), greets
every connection with `hello`, sends envelopes `{"envelope_id", "type", "payload",
"accepts_response_payload"}`, records the client's acks `{"envelope_id", "payload"?}` with their
latency, and can ask the client to reconnect (`{"type": "disconnect"}`) or drop the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from tests.bot.slack_stub import Call, SlackStub

APP_TOKEN = "xapp-1-A1-1-test-app-token"
APP_ID = "A1"
_ENVELOPES = itertools.count(1)


@dataclass(frozen=True)
class Ack:
    """What the client sent back for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    latency_s: float  # from sending the envelope to receiving the ack
    connection: int  # index of the connection it came on


@dataclass
class _Connection:
    index: int
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    closed: bool = False


class SocketModeServer:
    """The WebSocket server Slack's `wss://wss-primary.slack.com/link/` stands for, on 127.0.0.1."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-stub", daemon=True)
        self._runner: web.AppRunner | None = None
        self._tickets: set[str] = set()
        self._sent_at: dict[str, float] = {}
        self._changed = threading.Condition()
        self.port = 0
        self.connections: list[_Connection] = []
        self.received: list[dict[str, Any]] = []  # every text message from the client, in order
        self.acks: dict[str, Ack] = {}
        self.refused = 0  # upgrade requests with an unknown or used ticket (or all, when refusing)
        self.refuse_upgrades = False  # answer every WebSocket upgrade with 401, like an expired ticket

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        self._thread.start()
        self._call(self._start())
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        if self._runner is not None:
            self.close_all()
            self._call(self._runner.cleanup())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Any, timeout_s: float = 5.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    # --- what the Web API hands out --------------------------------------------------------------

    def issue_url(self) -> str:
        """A fresh single-use WebSocket URL, as apps.connections.open returns."""
        ticket = uuid.uuid4().hex
        with self._changed:
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # --- the protocol --------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._changed:
            known = ticket in self._tickets and not self.refuse_upgrades
            self._tickets.discard(ticket)
            if not known:
                self.refused += 1
        if not known:
            return web.Response(status=401, text="invalid or used ticket")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        with self._changed:
            conn = _Connection(len(self.connections), ws, request.transport)
            self.connections.append(conn)
        await ws.send_str(json.dumps(_hello(conn.index + 1)))
        with self._changed:
            self._changed.notify_all()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self._record(conn, json.loads(message.data))
        with self._changed:
            conn.closed = True
            self._changed.notify_all()
        return ws

    def _record(self, conn: _Connection, message: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._changed:
            self.received.append(message)
            envelope_id = message.get("envelope_id")
            if envelope_id in self._sent_at and envelope_id not in self.acks:
                latency = now - self._sent_at[envelope_id]
                self.acks[envelope_id] = Ack(envelope_id, message.get("payload"), latency, conn.index)
            self._changed.notify_all()

    # --- driving the client (from the test's thread) ---------------------------------------------

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
    ) -> str:
        """Send one envelope ("slash_commands", "events_api", "interactive") on the newest open
        connection; returns its envelope_id."""
        envelope_id = f"env-{next(_ENVELOPES)}-{uuid.uuid4().hex[:8]}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt or 0, retry_reason="timeout" if retry_attempt else "")
        conn = self.current()
        with self._changed:
            self._sent_at[envelope_id] = time.monotonic()
        self._call(conn.ws.send_str(json.dumps(envelope)))
        return envelope_id

    def current(self) -> _Connection:
        with self._changed:
            open_ = [c for c in self.connections if not c.closed]
        if not open_:
            raise AssertionError(f"no open Socket Mode connection ({len(self.connections)} opened)")
        return open_[-1]

    def ask_to_reconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's `disconnect` message: the client should open a new connection and drop this one."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-stub"}}
        self._call(self.current().ws.send_str(json.dumps(message)))

    def close_current(self, *, abort: bool = False) -> None:
        """Close the newest connection with a close frame (1001, going away), or cut the TCP socket."""
        conn = self.current()
        if abort and conn.transport is not None:
            self._loop.call_soon_threadsafe(conn.transport.abort)
        else:
            self._call(conn.ws.close(code=1001, message=b"going away"))

    def close_all(self) -> None:
        """Close every open connection with a close frame (1001, going away)."""
        with self._changed:
            open_ = [c for c in self.connections if not c.closed]
        for conn in open_:
            self._call(conn.ws.close(code=1001, message=b"going away"))

    # --- waiting -------------------------------------------------------------------------------

    def wait_connections(self, count: int, *, timeout_s: float = 3.0) -> None:
        """Wait until `count` connections have been opened (each greeted with hello)."""
        self._wait(lambda: len(self.connections) >= count, timeout_s, f"{count} connection(s)")

    def wait_closed(self, index: int, *, timeout_s: float = 3.0) -> None:
        self._wait(lambda: self.connections[index].closed, timeout_s, f"connection {index} to close")

    def wait_ack(self, envelope_id: str, *, timeout_s: float = 3.0) -> Ack:
        """The client's ack of one envelope; AssertionError when none arrives within timeout_s."""
        self._wait(lambda: envelope_id in self.acks, timeout_s, f"the ack of {envelope_id}")
        return self.acks[envelope_id]

    def _wait(self, done: Any, timeout_s: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(done, timeout=timeout_s):
                raise AssertionError(
                    f"no {what} within {timeout_s} s; connections={len(self.connections)}, "
                    f"received={self.received[-3:]}"
                )


def _hello(num_connections: int) -> dict[str, Any]:
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {"host": "applink-stub", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID},
    }


@dataclass
class SocketModeSlackStub(SlackStub):
    """The Web API stub with apps.connections.open handing out URLs of its own SocketModeServer."""

    app_token: str = APP_TOKEN
    socket: SocketModeServer = field(default_factory=SocketModeServer)

    def start(self) -> SocketModeSlackStub:
        self.socket.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.socket.stop()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if urlsplit(handler.path).path != "/api/apps.connections.open":
            super()._handle(handler)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        auth = handler.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not token:
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif not token.startswith("xapp-"):
            body = {"ok": False, "error": "not_allowed_token_type"}
        elif token != self.app_token:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = {"ok": True, "url": self.socket.issue_url()}
        with self._lock:
            self.calls.append(Call("apps.connections.open", {"token": token}, raw, body))
        self._reply(handler, 200, json.dumps(body).encode(), "application/json")
