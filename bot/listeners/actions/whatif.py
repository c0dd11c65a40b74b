"""*What if…*: open the what-if modal for one option."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.actions.context import click_of
from bot.listeners.common import conversation_of_plan, report_error, split_value
from bot.modals import whatif_modal


def handle_whatif_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        plan_id, rank = (int(p) for p in split_value(click.value, 2))
        conversation = conversation_of_plan(context, click)
        metadata = json.dumps({"t": conversation.thread_id, "p": plan_id, "r": rank, "c": click.channel})
        client.views_open(
            trigger_id=click.trigger_id, view=whatif_modal(private_metadata=metadata, title_option=str(rank))
        )
    except Exception as exc:
        report_error(client, channel=click.channel, thread_ts=click.thread_ts, exc=exc)
