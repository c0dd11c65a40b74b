"""*Retry* on an error: submit the planning request again (its job id is the same, so never twice)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.actions.context import click_of
from bot.listeners.common import report_error, split_value, start_plan


def handle_retry_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        thread_id, _version = split_value(click.value, 2)
        start_plan(context, thread_id)
        client.chat_delete(channel=click.channel, ts=click.message_ts)
    except Exception as exc:
        report_error(
            client, channel=click.channel, thread_ts=click.thread_ts, exc=exc, retry_value=click.value
        )
