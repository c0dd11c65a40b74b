"""*Reject*: an admin rejects the chosen option; the options stay open for another choice."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.actions.decision import decide


def handle_reject_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    decide(body, client, context, approve=False)
