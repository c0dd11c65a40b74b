"""Settings of the job system, read once from the environment at start-up and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerSettings:
    """Where jobs go and where their results are stored and posted."""

    redis_url: str | None  # None: run jobs inline in the calling process
    database_url: str | None  # None: the knowledge base's default (SQLite in the user data dir)
    slack_bot_token: str | None = None
    slack_api_url: str | None = None  # Web API base URL; Slack's when None
    ollama_host: str | None = None
    kubeconfig: str | None = None
    prometheus_url: str | None = None
    inline_in_thread: bool = True  # inline jobs run on a background thread (bot) or synchronously (CLI)

    @property
    def is_inline(self) -> bool:
        return not self.redis_url


def load_settings(environ: Mapping[str, str] = os.environ) -> WorkerSettings:
    """Read the job system's settings from the environment."""
    return WorkerSettings(
        redis_url=environ.get("REDIS_URL") or None,
        database_url=environ.get("DATABASE_URL") or None,
        slack_bot_token=environ.get("SLACK_BOT_TOKEN") or None,
        slack_api_url=environ.get("SLACK_API_URL") or None,
        ollama_host=environ.get("OLLAMA_HOST") or None,
        kubeconfig=environ.get("KUBECONFIG") or None,
        prometheus_url=environ.get("PROMETHEUS_URL") or None,
    )
