"""*Review/Edit spec*: open the spec modal, pre-filled, within the trigger's 3 seconds."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.conversation import Conversation
from bot.listeners.actions.context import click_of
from bot.listeners.common import report_error, services_of, split_value
from bot.modals import spec_modal


def handle_review_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        thread_id, _version = split_value(click.value, 2)
        services = services_of(context)
        number, spec = Conversation(services, thread_id).spec()
        metadata = json.dumps({"t": thread_id, "v": number, "c": click.channel, "ts": click.thread_ts})
        use_cases = [t.use_case for t in services.catalog().templates]
        view = spec_modal(
            spec.model_dump(mode="json"), private_metadata=metadata, use_cases=use_cases, version=number
        )
        client.views_open(trigger_id=click.trigger_id, view=view)
    except Exception as exc:
        report_error(client, channel=click.channel, thread_ts=click.thread_ts, exc=exc)
