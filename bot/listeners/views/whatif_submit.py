"""The what-if modal is submitted: inline errors, or a comparison job for the thread."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.conversation import Conversation
from bot.listeners.common import report_error, services_of, start_whatif
from bot.parse import parse_whatif


def handle_whatif_submission(ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    meta = json.loads(view.get("private_metadata") or "{}")
    services = services_of(context)
    changes, errors = parse_whatif(view["state"]["values"], catalog=services.catalog())
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    conversation = Conversation(services, meta["t"])
    try:
        start_whatif(
            context,
            conversation,
            int(meta["p"]),
            int(meta["r"]),
            changes,
            request_ts=view.get("id", "") + view.get("hash", ""),
        )
    except Exception as exc:
        report_error(client, channel=meta["c"], thread_ts=conversation.state().thread_ts, exc=exc)
