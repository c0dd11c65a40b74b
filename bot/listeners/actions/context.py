"""Where a click happened: the channel, the thread and the message that holds the button."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Click:
    user_id: str
    channel: str
    thread_ts: str  # the thread's parent ts
    message_ts: str  # the message with the button
    value: str
    trigger_id: str


def click_of(body: dict[str, Any]) -> Click:
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    message_ts = message.get("ts") or container.get("message_ts", "")
    action = (body.get("actions") or [{}])[0]
    return Click(
        user_id=(body.get("user") or {}).get("id", ""),
        channel=channel,
        thread_ts=message.get("thread_ts") or container.get("thread_ts") or message_ts,
        message_ts=message_ts,
        value=action.get("value", ""),
        trigger_id=body.get("trigger_id", ""),
    )
