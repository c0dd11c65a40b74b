"""*Recommend*: enqueue the planning job (one per spec version, however often it is clicked)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.listeners.actions.context import click_of
from bot.listeners.common import report_error, split_value, start_plan


def already_planned(version: int) -> str:
    return (
        f"Spec v{version} is already planned or being planned; its options are in this thread. "
        "Edit the spec (or say what changes) to plan again."
    )


def handle_recommend_action(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    click = click_of(body)
    try:
        thread_id, _clicked = split_value(click.value, 2)
        version, started = start_plan(context, thread_id)
        if not started:
            client.chat_postEphemeral(
                channel=click.channel,
                user=click.user_id,
                thread_ts=click.thread_ts,
                text=already_planned(version),
            )
    except Exception as exc:
        report_error(
            client, channel=click.channel, thread_ts=click.thread_ts, exc=exc, retry_value=click.value
        )
