"""Button clicks (block_actions)."""

from __future__ import annotations

from slack_bolt import App

from bot import ids
from bot.listeners.actions.approve import handle_approve_action
from bot.listeners.actions.choose import handle_choose_action
from bot.listeners.actions.details import handle_details_action
from bot.listeners.actions.recommend import handle_recommend_action
from bot.listeners.actions.reject import handle_reject_action
from bot.listeners.actions.retry import handle_retry_action
from bot.listeners.actions.review import handle_review_action
from bot.listeners.actions.whatif import handle_whatif_action


def register(app: App) -> None:
    app.action(ids.REVIEW_SPEC)(handle_review_action)
    app.action(ids.RECOMMEND)(handle_recommend_action)
    app.action(ids.RETRY)(handle_retry_action)
    app.action(ids.OPTION_DETAILS)(handle_details_action)
    app.action(ids.OPTION_WHATIF)(handle_whatif_action)
    app.action(ids.OPTION_CHOOSE)(handle_choose_action)
    app.action(ids.APPROVE)(handle_approve_action)
    app.action(ids.REJECT)(handle_reject_action)
