"""The spec modal is submitted: inline errors per field, or the next spec version in the thread.

With errors the modal stays open with what was typed (Slack keeps the inputs' values), so a
half-edited spec is never lost; the previous version stays stored until a valid one replaces it.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.conversation import Conversation
from bot.listeners.common import post_spec, report_error, services_of
from bot.parse import apply_spec_edits


def handle_spec_submission(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    meta = json.loads(view.get("private_metadata") or "{}")
    services = services_of(context)
    conversation = Conversation(services, meta["t"])
    try:
        _, current = conversation.spec()
        spec, errors = apply_spec_edits(
            view["state"]["values"], current.model_dump(mode="json"), catalog=services.catalog()
        )
    except Exception as exc:  # the modal closes; the thread says what went wrong
        ack()
        report_error(client, channel=meta["c"], thread_ts=meta["ts"], exc=exc)
        return
    if spec is None:
        ack(response_action="errors", errors=errors)
        return
    ack()
    try:
        post_spec(client, meta["c"], meta["ts"], conversation.edit_spec(spec, author=body["user"]["id"]))
    except Exception as exc:
        report_error(client, channel=meta["c"], thread_ts=meta["ts"], exc=exc)
