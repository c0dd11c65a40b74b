"""`/predeploy <what you need>`: start a thread in the channel and answer with the spec."""

from __future__ import annotations

import logging
from functools import partial

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.listeners.common import after_ack, continue_conversation

logger = logging.getLogger(__name__)
USAGE = blocks.USAGE


def handle_predeploy_command(
    ack: Ack,
    command: dict[str, str],
    client: WebClient,
    context: BoltContext,
    respond: Respond,
) -> None:
    text = (command.get("text") or "").strip()
    if not text:
        ack(USAGE)
        return
    if blocks.is_help(text):
        ack(blocks.HELP)
        return
    ack()
    after_ack(context, partial(start_thread, context, client, respond, command, text))


def start_thread(
    context: BoltContext, client: WebClient, respond: Respond, command: dict[str, str], text: str
) -> None:
    """Post the thread's root message in the channel, then answer the request in that thread."""
    channel, user_id = command["channel_id"], command["user_id"]
    try:
        root = client.chat_postMessage(channel=channel, **blocks.root_message(user_id, text))
    except SlackApiError as exc:
        error = exc.response.get("error")
        logger.warning("cannot post in %s: %s", channel, error)
        respond(f"I cannot post in this channel ({error}); invite me with `/invite @predeploy`.")
        return
    ts = str(root["ts"])
    continue_conversation(context, client, channel=channel, thread_ts=ts, user_id=user_id, ts=ts, text=text)
