"""The Slack app manifest matches what the app does; settings refuse placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import SettingsError, is_placeholder, load_settings, parse_admins

MANIFEST = Path(__file__).resolve().parents[2] / "bot" / "slack_manifest.yaml"
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1234-abcd", "SLACK_SIGNING_SECRET": "8f2c1e0d9b7a6c5d4e3f2a1b0c9d8e7f"}


def test_the_manifest_asks_for_what_the_bot_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # Web API methods the bot calls → the scope each needs
    needs = {
        "chat:write",
        "files:write",
        "usergroups:read",
        "commands",
        "app_mentions:read",
        "channels:history",
        "im:history",
    }
    assert needs <= scopes
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.im",
    }
    assert settings["interactivity"]["is_enabled"] is True
    urls = {
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert urls == {"https://YOUR-HOST/slack/events"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/predeploy"]


def test_settings_read_the_environment() -> None:
    s = load_settings(
        {
            **GOOD,
            "PREDEPLOY_ADMINS": "U1, U2 S3,U1",
            "REDIS_URL": "redis://r:6379/0",
            "SLACK_API_URL": "http://127.0.0.1:1/api/",
        }
    )
    assert s.admins == ("U1", "U2", "S3") and s.redis_url == "redis://r:6379/0"
    assert s.slack_api_url == "http://127.0.0.1:1/api/" and s.database_url is None


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({**GOOD, "SLACK_SIGNING_SECRET": "changeme"}, "placeholder"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxb-your-token-here"}, "placeholder"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxp-user-token-123"}, "starting with 'xoxb-'"),
    ],
)
def test_missing_or_placeholder_secrets_are_refused(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(env)


def test_dev_allows_placeholders_and_socket_mode_needs_an_app_token() -> None:
    assert load_settings({**GOOD, "SLACK_SIGNING_SECRET": "changeme", "PREDEPLOY_ENV": "dev"}).is_dev
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN"):
        load_settings(GOOD, socket_mode=True)
    assert (
        load_settings({**GOOD, "SLACK_APP_TOKEN": "xapp-1-abc"}, socket_mode=True).slack_app_token
        == "xapp-1-abc"
    )


def test_helpers() -> None:
    assert is_placeholder("") and is_placeholder("<secret>") and not is_placeholder("8f2c1e0d9b")
    assert parse_admins("") == ()
