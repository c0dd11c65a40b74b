"""Settings of the Slack bot, read once from the environment at start-up and passed down.

`load_settings()` refuses missing or placeholder secrets unless PREDEPLOY_ENV=dev, so that a bot
never starts in production with "changeme" as its signing secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"^(|changeme|change-me|changethis|secret|placeholder|todo|xxx+|test|dummy)$", re.I)
_PLACEHOLDER_PARTS = ("your-", "your_", "<", "...")


class SettingsError(Exception):
    """A setting is missing or still a placeholder; the message names the variable and the fix."""


@dataclass(frozen=True)
class BotSettings:
    """What the Slack app needs to run."""

    slack_bot_token: str
    slack_signing_secret: str
    slack_app_token: str | None = None  # xapp-…, Socket Mode only
    slack_api_url: str | None = None  # Web API base URL; Slack's when None
    admins: tuple[str, ...] = ()  # user ids (U…/W…) or user-group ids (S…) allowed to approve
    database_url: str | None = None
    redis_url: str | None = None
    ollama_host: str | None = None
    environment: str = "production"

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"


def is_placeholder(value: str | None) -> bool:
    """True for empty or obviously made-up secrets ("changeme", "xoxb-your-token", "<secret>")."""
    if value is None:
        return True
    v = value.strip()
    return bool(_PLACEHOLDER.match(v)) or any(p in v.lower() for p in _PLACEHOLDER_PARTS)


def parse_admins(raw: str) -> tuple[str, ...]:
    """Split PREDEPLOY_ADMINS ("U123, U456 S789") into ids, keeping order, dropping duplicates."""
    return tuple(dict.fromkeys(p for p in re.split(r"[\s,;]+", raw.strip()) if p))


def load_settings(environ: Mapping[str, str] = os.environ, *, socket_mode: bool = False) -> BotSettings:
    """Read the bot's settings.

    Raises:
        SettingsError: a required secret is missing or a placeholder outside PREDEPLOY_ENV=dev.
    """
    env = environ.get("PREDEPLOY_ENV", "production").strip().lower() or "production"
    settings = BotSettings(
        slack_bot_token=environ.get("SLACK_BOT_TOKEN", "").strip(),
        slack_signing_secret=environ.get("SLACK_SIGNING_SECRET", "").strip(),
        slack_app_token=environ.get("SLACK_APP_TOKEN", "").strip() or None,
        slack_api_url=environ.get("SLACK_API_URL", "").strip() or None,
        admins=parse_admins(environ.get("PREDEPLOY_ADMINS", "")),
        database_url=environ.get("DATABASE_URL", "").strip() or None,
        redis_url=environ.get("REDIS_URL", "").strip() or None,
        ollama_host=environ.get("OLLAMA_HOST", "").strip() or None,
        environment=env,
    )
    _check(settings, socket_mode=socket_mode)
    return settings


def _check(settings: BotSettings, *, socket_mode: bool) -> None:
    required = {"SLACK_BOT_TOKEN": settings.slack_bot_token}
    if socket_mode:
        required["SLACK_APP_TOKEN"] = settings.slack_app_token or ""
    else:
        required["SLACK_SIGNING_SECRET"] = settings.slack_signing_secret
    for name, value in required.items():
        if not value:
            raise SettingsError(f"{name} is not set; copy it from your Slack app's settings page (README).")
        if is_placeholder(value) and not settings.is_dev:
            raise SettingsError(
                f"{name} looks like a placeholder ({value[:12]!r}); set the real value, "
                "or PREDEPLOY_ENV=dev for local experiments."
            )
    if settings.slack_bot_token and not settings.slack_bot_token.startswith("xoxb-"):
        raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
    if socket_mode and not (settings.slack_app_token or "").startswith("xapp-"):
        raise SettingsError("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' for --socket.")
