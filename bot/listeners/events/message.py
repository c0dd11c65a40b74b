"""Messages: a direct message starts or continues a conversation; in channels, only replies in a
thread the bot already holds count (an @mention arrives as app_mention as well and is handled there)."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.conversation import find_thread, thread_id_for
from bot.listeners.common import after_ack, continue_conversation, services_of
from bot.listeners.events.app_mention import strip_mentions


def is_from_a_person(event: dict[str, Any]) -> bool:
    return not event.get("bot_id") and not event.get("subtype") and bool(event.get("user"))


def handle_message(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if not is_from_a_person(event):
        return
    channel, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts") or ts
    if event.get("channel_type") != "im":
        mentions_me = context.bot_user_id and f"<@{context.bot_user_id}>" in event.get("text", "")
        known = find_thread(services_of(context), thread_id_for(context.team_id or "T0", channel, thread_ts))
        if mentions_me or not event.get("thread_ts") or known is None:
            return
    text = strip_mentions(event.get("text", ""))
    if text:
        work = partial(continue_conversation, context, client, channel=channel, thread_ts=thread_ts)
        after_ack(context, partial(work, user_id=event["user"], ts=ts, text=text))
