"""*Approve*/*Reject*: admins only. Others get an ephemeral refusal and the attempt is logged."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import blocks
from bot.listeners.actions.context import click_of
from bot.listeners.common import (
    conversation_of_plan,
    is_admin,
    report_error,
    settings_of,
    split_value,
    submit,
)
from workers.enqueue import JobKind

logger = logging.getLogger(__name__)


def refusal(admins: tuple[str, ...]) -> str:
    if not admins:
        return "No one can approve yet: PREDEPLOY_ADMINS is empty. Ask whoever runs predeploy to set it."
    names = ", ".join(f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in admins)
    return (
        f"Only admins can approve or reject a deployment ({names}). Ask one of them to look at this thread."
    )


def decide(body: dict[str, Any], client: WebClient, context: BoltContext, *, approve: bool) -> None:
    click = click_of(body)
    try:
        admins = settings_of(context).admins
        if not is_admin(client, click.user_id, admins):
            logger.warning(
                "refused: %s tried to %s %s", click.user_id, "approve" if approve else "reject", click.value
            )
            _store_refusal(context, click, approve=approve)
            client.chat_postEphemeral(
                channel=click.channel, user=click.user_id, thread_ts=click.thread_ts, text=refusal(admins)
            )
            return
        plan_id, rank = (int(p) for p in split_value(click.value, 2))
        decision = conversation_of_plan(context, click).decide(
            plan_id, rank, user_id=click.user_id, approve=approve
        )
        message = blocks.decision_message(
            decision.option,
            decision=decision.decision,
            user_id=click.user_id,
            at=decision.at,
            percentile=decision.percentile,
        )
        client.chat_update(channel=click.channel, ts=click.message_ts, **message)
        if approve:
            submit(
                context,
                JobKind.DEPLOY,
                "workers.jobs.deploy_approved",
                plan_id,
                rank,
                key=(decision.thread_id, plan_id, rank, decision.at),  # approving again redeploys
            )
    except Exception as exc:
        report_error(client, channel=click.channel, thread_ts=click.thread_ts, exc=exc)


def _store_refusal(context: BoltContext, click: Any, *, approve: bool) -> None:
    """Keep the refused attempt on the option's approval record (the log line above stays the fallback)."""
    try:
        plan_id, rank = (int(p) for p in split_value(click.value, 2))
        conversation_of_plan(context, click).refused(
            plan_id, rank, user_id=click.user_id, action="approve" if approve else "reject"
        )
    except Exception:
        logger.exception("could not store the refused attempt of %s on %s", click.user_id, click.value)
