"""Slash commands."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.predeploy import handle_predeploy_command


def register(app: App) -> None:
    app.command("/predeploy")(handle_predeploy_command)
