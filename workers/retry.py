"""Which failures are worth another attempt, and how long to wait before it.

Transient: Slack rate limits (HTTP 429, waiting at least its Retry-After) and 5xx answers, the
Kubernetes API's 5xx/429 (`deploy.errors.TransientDeployError`, or the client's `ApiException`),
dropped or refused connections and timeouts (sockets, urllib, urllib3, httpx, Redis, the
database), and a worker that died under the job. Everything else is final at once: bad input
(`PlannerError`, `DeployError`, `KbError`) would fail the same way again, and a bug is a bug.

Optional libraries are only looked up when already imported (an exception from kubernetes means
kubernetes is loaded), so classifying never pays for importing them.
"""

from __future__ import annotations

import math
import sys
import urllib.error
from dataclasses import dataclass
from typing import Any

from deploy.errors import DeployError, TransientDeployError
from kb.errors import DatabaseUnavailableError, KbError
from planner.errors import PlannerError


@dataclass(frozen=True)
class Transience:
    """The verdict on one failure."""

    transient: bool
    reason: str  # "slack rate limit", "connection dropped", "bad input", ...
    retry_after_s: float | None = None  # the server's own wait (Retry-After), when it gave one


FINAL_USER_ERRORS = (PlannerError, KbError, DeployError)


def classify(exc: BaseException) -> Transience:
    """Decide whether `exc` may pass on a later attempt (looking through explicit `raise ... from`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _classify_one(current)
        if verdict is not None:
            return verdict
        current = current.__cause__
    return Transience(False, f"unexpected error ({type(exc).__name__})")


def _classify_one(exc: BaseException) -> Transience | None:
    if isinstance(exc, TransientDeployError):
        return Transience(True, "Kubernetes API unavailable")
    if isinstance(exc, DatabaseUnavailableError):
        return Transience(True, "database unavailable")
    if isinstance(exc, FINAL_USER_ERRORS):
        return Transience(False, "bad input")
    for check in (_slack, _kubernetes, _abandoned, _connection):
        verdict = check(exc)
        if verdict is not None:
            return verdict
    return None


def _loaded(module: str, name: str) -> type[BaseException] | None:
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else None


def _slack(exc: BaseException) -> Transience | None:
    api_error = _loaded("slack_sdk.errors", "SlackApiError")
    if api_error is None or not isinstance(exc, api_error):
        return None
    response: Any = getattr(exc, "response", None)
    status = int(getattr(response, "status_code", 0) or 0)
    if status == 429:
        return Transience(True, "Slack rate limit", retry_after_s=_retry_after(response))
    if status >= 500:
        return Transience(True, f"Slack answered HTTP {status}")
    return Transience(False, f"Slack refused the call ({_slack_error(response)})")


def _slack_error(response: Any) -> str:
    try:
        return str(response["error"])
    except (KeyError, TypeError):
        return "error"


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value[0] if isinstance(value, list | tuple) else value)
            except (TypeError, ValueError):
                return None
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _kubernetes(exc: BaseException) -> Transience | None:
    api_exception = _loaded("kubernetes.client.exceptions", "ApiException")
    if api_exception is None or not isinstance(exc, api_exception):
        return None
    status = int(getattr(exc, "status", 0) or 0)
    if status == 429 or status >= 500 or status == 0:
        return Transience(True, f"Kubernetes API answered HTTP {status or 'nothing'}")
    return Transience(False, f"Kubernetes API refused the request (HTTP {status})")


def _abandoned(exc: BaseException) -> Transience | None:
    abandoned = _loaded("rq.exceptions", "AbandonedJobError")
    if abandoned is not None and isinstance(exc, abandoned):
        return Transience(True, "the worker running the job died")
    if isinstance(exc, WorkerKilledError):
        return Transience(True, "the worker running the job was killed")
    return None


def _connection(exc: BaseException) -> Transience | None:
    if isinstance(exc, ConnectionError | TimeoutError):
        return Transience(True, "connection dropped or timed out")
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return Transience(True, f"connection failed ({exc.reason})")
    if isinstance(exc, urllib.error.HTTPError) and (exc.code >= 500 or exc.code == 429):
        return Transience(True, f"HTTP {exc.code}")
    for module, name in (
        ("urllib3.exceptions", "ProtocolError"),
        ("urllib3.exceptions", "MaxRetryError"),
        ("urllib3.exceptions", "TimeoutError"),
        ("httpx", "TransportError"),
        ("redis.exceptions", "ConnectionError"),
        ("redis.exceptions", "TimeoutError"),
        ("http.client", "IncompleteRead"),
    ):
        cls = _loaded(module, name)
        if cls is not None and isinstance(exc, cls):
            return Transience(True, "connection dropped or timed out")
    operational = _loaded("sqlalchemy.exc", "OperationalError")
    if operational is not None and isinstance(exc, operational):
        return Transience(True, "database connection failed")
    return None


class WorkerKilledError(Exception):
    """The process running a job ended without finishing it (kill -9, out of memory)."""


def wait_s(interval_s: float, verdict: Transience) -> float:
    """The wait before the next attempt: the backoff, or the server's Retry-After when longer."""
    return max(interval_s, verdict.retry_after_s or 0.0)
