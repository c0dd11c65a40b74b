"""Health check of a serving endpoint: /health, /v1/models, then one short completion (httpx)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from deploy.errors import UnhealthyError


@dataclass(frozen=True)
class HealthSettings:
    """How hard to try before calling an endpoint unhealthy."""

    attempts: int = 5  # the Service may route a few seconds after Ready
    retry_interval_s: float = 3.0
    request_timeout_s: float = 30.0  # the first completion may compile kernels
    prompt: str = "Reply with OK."
    max_tokens: int = 4


def check_health(
    base_url: str,
    *,
    served_model_name: str,
    client: httpx.Client,
    settings: HealthSettings,
    sleep: Callable[[float], None],
) -> list[str]:
    """Run the three checks, each retried; return one line per passed check.

    Raises:
        UnhealthyError: a check still failed after `settings.attempts` tries; says which and why.
    """
    root = base_url.rstrip("/")
    checks: list[tuple[str, Callable[[], str]]] = [
        ("GET /health", lambda: _health(client, root, settings)),
        ("GET /v1/models", lambda: _models(client, root, served_model_name, settings)),
        ("POST /v1/completions", lambda: _completion(client, root, served_model_name, settings)),
    ]
    passed = []
    for label, check in checks:
        passed.append(f"{label}: {_retry(label, check, root=root, settings=settings, sleep=sleep)}")
    return passed


def _retry(
    label: str,
    check: Callable[[], str],
    *,
    root: str,
    settings: HealthSettings,
    sleep: Callable[[float], None],
) -> str:
    last = ""
    for attempt in range(max(1, settings.attempts)):
        if attempt:
            sleep(settings.retry_interval_s)
        try:
            return check()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            last = f"{type(exc).__name__}: {exc}"
    raise UnhealthyError(f"{label} on {root} failed {settings.attempts} times; last error {last}")


def _health(client: httpx.Client, root: str, settings: HealthSettings) -> str:
    response = client.get(f"{root}/health", timeout=settings.request_timeout_s)
    response.raise_for_status()
    return f"HTTP {response.status_code}"


def _models(client: httpx.Client, root: str, served: str, settings: HealthSettings) -> str:
    response = client.get(f"{root}/v1/models", timeout=settings.request_timeout_s)
    response.raise_for_status()
    ids = [str(m.get("id")) for m in response.json().get("data", [])]
    if served not in ids:
        raise ValueError(f"model {served!r} not served; the endpoint lists {ids}")
    return f"serves {served}"


def _completion(client: httpx.Client, root: str, served: str, settings: HealthSettings) -> str:
    body: dict[str, Any] = {"model": served, "prompt": settings.prompt, "max_tokens": settings.max_tokens}
    response = client.post(f"{root}/v1/completions", json=body, timeout=settings.request_timeout_s)
    response.raise_for_status()
    choices = response.json()["choices"]
    if not choices:
        raise ValueError("the completion has no choices")
    usage = response.json().get("usage") or {}
    return f"{usage.get('completion_tokens', '?')} tokens generated"
