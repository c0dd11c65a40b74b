"""The small streaming HTTP client: framing parsed across arbitrary splits, keep-alive, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from simulator.httpstream import ConnectError, Pool, Target, _Conn


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def feed_in_pieces(raw: bytes, size: int) -> tuple[tuple[int, bool], bytes, bytes]:
    async def main() -> tuple[tuple[int, bool], bytes, bytes]:
        conn = _Conn()
        conn.connection_made(FakeTransport())
        got = bytearray()
        done = conn.send(b"req", lambda data, _t: got.extend(data))
        for i in range(0, len(raw), size):
            conn.data_received(raw[i : i + size])
        return await asyncio.wait_for(done, 1), bytes(got), bytes(conn.error_body)

    return asyncio.run(main())


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"6\r\ndata: \r\n" b"a\r\n{\"a\": 1}\n\n\r\n" b"0\r\n\r\n"
)  # fmt: skip


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_chunked_body_in_any_split(size: int) -> None:
    (status, reusable), body, _ = feed_in_pieces(CHUNKED, size)
    assert (status, reusable) == (200, True)
    assert body == b'data: {"a": 1}\n\n'


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_content_length_error_body(size: int) -> None:
    raw = b'HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{"error": {}}'
    (status, reusable), body, error = feed_in_pieces(raw, size)
    assert (status, reusable) == (404, False) and body == b"" and error == b'{"error": {}}'


def test_malformed_response_fails_the_request() -> None:
    with pytest.raises(ConnectionResetError, match="malformed"):
        feed_in_pieces(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1000)


def test_target_and_request_head() -> None:
    t = Target.parse("https://example.org/v1/completions")
    assert (t.host, t.port, t.tls, t.path) == ("example.org", 443, True, "/v1/completions")
    assert t.request_head(5).startswith(b"POST /v1/completions HTTP/1.1\r\nHost: example.org:443\r\n")
    with pytest.raises(ValueError):
        Target.parse("ftp://x")
    authed = Target.parse("http://h:1/v1/chat/completions", bearer_token="sk-1")
    assert b"\r\nAuthorization: Bearer sk-1\r\n" in authed.request_head(2)
    with pytest.raises(ValueError, match="one line"):
        Target.parse("http://h:1/", bearer_token="a\r\nX-Evil: 1")


def test_connection_refused_is_a_connect_error() -> None:
    async def main() -> None:
        await Pool(Target.parse("http://127.0.0.1:9/v1/completions")).post(b"{}", lambda d, t: None)

    with pytest.raises(ConnectError, match="cannot connect"):
        asyncio.run(main())


def test_keep_alive_reuses_one_connection() -> None:
    served: list[int] = []
    closed: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
                writer.write(CHUNKED)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()
            await writer.wait_closed()
            closed.append(1)

    async def main(on_body: Callable[[bytes, float], None]) -> list[int]:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = Pool(Target.parse(f"http://127.0.0.1:{port}/x"))
        statuses = [(await pool.post(b"{}", on_body))[0] for _ in range(3)]
        pool.close()
        for _ in range(100):  # let the handler see the client go and close its side
            await asyncio.sleep(0.01)
            if closed:
                break
        server.close()
        await server.wait_closed()
        return statuses

    bodies: list[bytes] = []
    assert asyncio.run(main(lambda d, t: bodies.append(d))) == [200, 200, 200]
    assert len(served) == 1 and b"".join(bodies) == b'data: {"a": 1}\n\n' * 3
