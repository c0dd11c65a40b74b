"""*Approve*: an admin approves the chosen option; the deployment job starts."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.actions.decision import decide


def handle_approve_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    decide(body, client, context, approve=True)
