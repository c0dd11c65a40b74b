"""Modal submissions (view_submission)."""

from __future__ import annotations

from slack_bolt import App

from bot import ids
from bot.listeners.views.spec_submit import handle_spec_submission
from bot.listeners.views.whatif_submit import handle_whatif_submission


def register(app: App) -> None:
    app.view(ids.SPEC_MODAL)(handle_spec_submission)
    app.view(ids.WHATIF_MODAL)(handle_whatif_submission)
