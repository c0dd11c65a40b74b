"""Timing server-sent events as their bytes arrive (pure)."""

from __future__ import annotations

import pytest

from simulator.sse import EventTimes

CHAT = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":" a"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content": "b"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("size", [1, 3, 17, 10_000])
@pytest.mark.parametrize("crlf", [False, True])
def test_tokens_usage_and_done_in_any_split(size: int, crlf: bool) -> None:
    raw = CHAT.replace(b"\n", b"\r\n") if crlf else CHAT
    events = EventTimes()
    for i in range(0, len(raw), size):
        events.feed(raw[i : i + size], float(i))
    assert len(events.token_times) == 2  # the role chunk and the empty final delta carry no text
    assert events.usage_tokens == 2 and events.done_s is not None


def test_completions_text_and_comments() -> None:
    events = EventTimes()
    events.feed(b': keep-alive\n\ndata: {"choices":[{"text":" x","finish_reason":null}]}\n\n', 1.0)
    events.feed(b'data: {"choices":[{"text":"","finish_reason":"stop"}]}\n\n', 2.0)
    assert events.token_times == [1.0] and events.usage_tokens is None and events.done_s is None
