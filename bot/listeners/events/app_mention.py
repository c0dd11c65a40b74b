"""`@predeploy …` in a channel: start a thread on that message, or continue the thread it is in."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.listeners.common import after_ack, continue_conversation

_MENTION = re.compile(r"<@[A-Z0-9]+(\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text or "").strip()


def handle_app_mention(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    text = strip_mentions(event.get("text", ""))
    thread_ts = event.get("thread_ts") or event["ts"]
    if not text:
        client.chat_postMessage(
            channel=event["channel"],
            thread_ts=thread_ts,
            text="Tell me what you need, e.g. a chatbot for 500 users.",
        )
        return
    channel, user_id, ts = event["channel"], event["user"], event["ts"]
    work = partial(
        continue_conversation, context, client, channel=channel, thread_ts=thread_ts, user_id=user_id
    )
    after_ack(context, partial(work, ts=ts, text=text))
