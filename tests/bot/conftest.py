"""Fixtures for the bot: the Slack Web API stub, a seeded tmp database, the app, a user."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.app import build_app
from bot.conversation import Services
from bot.services import open_services
from bot.settings import BotSettings
from tests.bot.harness import SECRET, TOKEN, SlackUser
from tests.bot.slack_stub import SlackStub
from workers.enqueue import forget_inline


def wait_for_inline_jobs(timeout_s: float = 60.0) -> None:
    """Let background (inline) jobs finish before their stub and database go away."""
    deadline = time.monotonic() + timeout_s
    while any(t.name.startswith("job-") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    forget_inline()  # job ids repeat across tests' databases (plan 1 of each); forget earlier runs
    s = SlackStub(usergroups={"SADMINS": ["U_GROUP_ADMIN"]}).start()
    yield s
    wait_for_inline_jobs()
    s.stop()


@pytest.fixture
def settings(seeded_env: str, stub: SlackStub, monkeypatch: pytest.MonkeyPatch) -> BotSettings:
    """Bot settings on a seeded tmp SQLite database; inline jobs read the same through the environment."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", stub.api_url)
    for name in ("REDIS_URL", "OLLAMA_HOST", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    return BotSettings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=stub.api_url,
        admins=("U_ADMIN", "SADMINS"),
        database_url=seeded_env,
    )


@pytest.fixture
def services(settings: BotSettings) -> Services:
    """The conversation services on the test database (what the app's listeners use)."""
    return open_services(settings.database_url)


@pytest.fixture
def user(settings: BotSettings, stub: SlackStub, services: Services) -> SlackUser:
    return SlackUser(build_app(settings, services=services), stub)
