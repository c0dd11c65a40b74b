"""A loopback server speaking Slack's Web API, recording every call (like bolt-python's mock server).

Start it with `SlackStub().start()`, point a `WebClient(base_url=stub.api_url)` at it, and read what the
bot sent from `stub.calls`. It answers the methods predeploy uses with the shapes Slack returns:
auth.test, chat.postMessage, chat.update, chat.postEphemeral, views.open, views.update,
files.getUploadURLExternal + the upload URL + files.completeUploadExternal, usergroups.users.list.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
_TS = itertools.count(1)  # shared by every stub in the process, so message ts never repeat across tests


@dataclass
class Call:
    """One request the bot made."""

    method: str  # "chat.postMessage", or "upload" for the file upload URL
    params: dict[str, Any]
    body: bytes = b""
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ts(self) -> str:
        """The ts of the message this call posted or updated."""
        return str(self.params.get("ts") or self.response.get("ts") or "")


@dataclass
class SlackStub:
    """Records calls; `usergroups` maps a group id to its members; `fail` maps a method to an error."""

    usergroups: dict[str, list[str]] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SlackStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                stub._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                stub._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # --- queries -------------------------------------------------------------------------------

    def of(self, method: str, **match: Any) -> list[Call]:
        """The calls to one method whose params include `match`."""
        with self._lock:
            calls = list(self.calls)
        return [
            c for c in calls if c.method == method and all(c.params.get(k) == v for k, v in match.items())
        ]

    def wait_for(self, method: str, *, count: int = 1, timeout_s: float = 5.0, **match: Any) -> list[Call]:
        """Wait until `count` matching calls arrived and return them; AssertionError on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.of(method, **match)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        seen = [c.method for c in self.calls]
        got = len(self.of(method, **match))
        raise AssertionError(f"expected {count} x {method} {match}, got {got}; saw {seen}")

    # --- the protocol --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if url.path.startswith("/upload/"):
            with self._lock:
                self.calls.append(Call("upload", {"file_id": url.path.rsplit("/", 1)[-1]}, raw))
            self._reply(handler, 200, b"OK - %d" % len(raw), "text/plain")
            return
        method = url.path.removeprefix("/api/").lstrip("/")  # "response" for a response_url
        params: dict[str, Any] = dict(parse_qsl(url.query))
        ctype = handler.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            params.update(json.loads(raw))
        elif raw:
            params.update(parse_qsl(raw.decode()))
        for key in ("blocks", "view", "files"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        auth = handler.headers.get("Authorization", "")
        if not auth.startswith("Bearer xox"):
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif method in self.fail:
            body = {"ok": False, "error": self.fail[method]}
        else:
            body = self._answer(method, params)
        with self._lock:
            self.calls.append(Call(method, params, raw, body))
        self._reply(handler, 200, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _next_ts(self) -> str:
        with self._lock:
            return f"{int(time.time())}.{next(_TS):06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team": "Test"}
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or self._next_ts()
            message = {"ts": ts, "text": params.get("text", ""), "blocks": params.get("blocks", [])}
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method in ("views.open", "views.update", "views.push"):
            view = dict(params.get("view") or {})
            view.update({"id": params.get("view_id") or f"V{self._next_ts().replace('.', '')}", "hash": "h1"})
            return {"ok": True, "view": view}
        if method == "files.getUploadURLExternal":
            file_id = f"F{self._next_ts().replace('.', '')}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = params.get("files") or []
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "usergroups.users.list":
            group = params.get("usergroup", "")
            if group not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[group]}
        return {"ok": True}
