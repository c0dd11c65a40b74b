"""*Details*: the full prediction of one option, shown to the person who asked."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.listeners.actions.context import click_of
from bot.listeners.common import conversation_of_plan, report_error, split_value


def handle_details_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        plan_id, rank = (int(p) for p in split_value(click.value, 2))
        option, percentile = conversation_of_plan(context, click).option(plan_id, rank)
        client.chat_postEphemeral(
            channel=click.channel,
            user=click.user_id,
            thread_ts=click.thread_ts,
            **blocks.details_message(option, percentile=percentile),
        )
    except Exception as exc:
        report_error(client, channel=click.channel, thread_ts=click.thread_ts, exc=exc)
