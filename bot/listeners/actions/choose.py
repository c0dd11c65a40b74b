"""*Choose*: record the choice and post the approval request for the admins."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.listeners.actions.context import click_of
from bot.listeners.common import conversation_of_plan, post, report_error, split_value


def handle_choose_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        plan_id, rank = (int(p) for p in split_value(click.value, 2))
        choice = conversation_of_plan(context, click).choose(plan_id, rank, user_id=click.user_id)
        message = blocks.approval_request(
            choice.option, plan_id=plan_id, requested_by=click.user_id, percentile=choice.percentile
        )
        post(client, click.channel, click.thread_ts, message)
    except Exception as exc:
        report_error(client, channel=click.channel, thread_ts=click.thread_ts, exc=exc)
