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
    namespace: str = "default"  # PREDEPLOY_NAMESPACE: where approved options are deployed
    kube_context: str | None = None  # PREDEPLOY_KUBE_CONTEXT: None for the kubeconfig's current one
    deploy_ready_timeout_s: float = 1800.0  # PREDEPLOY_READY_TIMEOUT_S: vLLM downloads and loads weights
    deploy_poll_interval_s: float = 5.0  # PREDEPLOY_POLL_INTERVAL_S
    deploy_check_health: bool = True  # PREDEPLOY_SKIP_HEALTH=1 when workers cannot reach the status URL
    progress_every_s: float = 0.5  # PREDEPLOY_PROGRESS_EVERY_S: at most one progress edit per interval
    inline_in_thread: bool = True  # inline jobs run on a background thread (bot) or synchronously (CLI)

    @property
    def is_inline(self) -> bool:
        return not self.redis_url


class SettingsError(ValueError):
    """A worker setting in the environment that cannot be read."""


def _seconds(environ: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            f"{name}={raw!r} is not a number of seconds; unset it or give e.g. {default:g}"
        ) from None
    if not value >= minimum:  # also refuses NaN
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g} seconds")
    return value


def load_settings(environ: Mapping[str, str] = os.environ) -> WorkerSettings:
    """Read the job system's settings from the environment.

    Raises:
        SettingsError: a number of seconds that is not one, or out of range.
    """
    return WorkerSettings(
        redis_url=environ.get("REDIS_URL") or None,
        database_url=environ.get("DATABASE_URL") or None,
        slack_bot_token=environ.get("SLACK_BOT_TOKEN") or None,
        slack_api_url=environ.get("SLACK_API_URL") or None,
        ollama_host=environ.get("OLLAMA_HOST") or None,
        kubeconfig=environ.get("KUBECONFIG") or None,
        prometheus_url=environ.get("PROMETHEUS_URL") or None,
        namespace=environ.get("PREDEPLOY_NAMESPACE", "").strip() or "default",
        kube_context=environ.get("PREDEPLOY_KUBE_CONTEXT", "").strip() or None,
        deploy_ready_timeout_s=_seconds(environ, "PREDEPLOY_READY_TIMEOUT_S", 1800.0, minimum=1.0),
        deploy_poll_interval_s=_seconds(environ, "PREDEPLOY_POLL_INTERVAL_S", 5.0, minimum=0.01),
        deploy_check_health=environ.get("PREDEPLOY_SKIP_HEALTH", "").strip().lower() not in _TRUE,
        progress_every_s=_seconds(environ, "PREDEPLOY_PROGRESS_EVERY_S", 0.5, minimum=0.0),
    )


_TRUE = frozenset({"1", "true", "yes", "on"})
