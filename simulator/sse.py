"""Server-sent events of an OpenAI-compatible stream, timed as they arrive (pure)."""

from __future__ import annotations

import json
import re

_CONTENT = re.compile(rb'"(?:text|content)"\s*:\s*"(?!")')  # a chunk that carries some text


class EventTimes:
    """Server-sent events of one response, parsed cheaply: a regex finds non-empty text; only the
    usage chunk is decoded as JSON."""

    __slots__ = ("buffer", "token_times", "usage_tokens", "done_s")

    def __init__(self) -> None:
        self.buffer = b""
        self.token_times: list[float] = []
        self.usage_tokens: int | None = None
        self.done_s: float | None = None

    def feed(self, data: bytes, now_s: float) -> None:
        """Take the next bytes of the body, received at now_s."""
        data = self.buffer + data if self.buffer else data
        if b"\r" in data:  # CRLF line ends (a CR left at the end waits for its LF in the buffer)
            data = data.replace(b"\r\n", b"\n")
        *events, self.buffer = data.split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self._data(line[5:].strip(), now_s)

    def _data(self, payload: bytes, now_s: float) -> None:
        if payload == b"[DONE]":
            self.done_s = now_s
        elif _CONTENT.search(payload):
            self.token_times.append(now_s)
        if b'"completion_tokens"' in payload:
            usage = json.loads(payload).get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                self.usage_tokens = usage["completion_tokens"]
