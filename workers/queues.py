"""Queues by kind of job, their limits (timeout, retries, result lifetime) and the Redis connection.

One table per limit, so that a look here answers "where does a deploy job go and how long may it
run". `enqueue.py` re-exports the names the bot uses (`JobKind`, `QUEUE_OF`, `TIMEOUT_S`,
`QueueUnavailableError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from workers.settings import WorkerSettings

if TYPE_CHECKING:
    from redis import Redis


class JobKind(StrEnum):
    """What a job does; decides its queue, timeout and retries."""

    PLAN = "plan"
    WHATIF = "whatif"
    DEPLOY = "deploy"
    DIGEST = "digest"
    CLEANUP = "cleanup"


class QueueName(StrEnum):
    INTERACTIVE = "interactive"  # a person is waiting in Slack: planning, what-if, spec extraction
    DEPLOY = "deploy"  # long cluster work, kept apart so that it never delays planning
    SCHEDULED = "scheduled"  # periodic jobs: digests, cleanup


QUEUE_NAMES: tuple[str, ...] = tuple(q.value for q in QueueName)

QUEUE_OF: dict[JobKind, str] = {
    JobKind.PLAN: QueueName.INTERACTIVE,
    JobKind.WHATIF: QueueName.INTERACTIVE,
    JobKind.DEPLOY: QueueName.DEPLOY,
    JobKind.DIGEST: QueueName.SCHEDULED,
    JobKind.CLEANUP: QueueName.SCHEDULED,
}
TIMEOUT_S: dict[JobKind, int] = {
    JobKind.PLAN: 120,
    JobKind.WHATIF: 120,
    JobKind.DEPLOY: 3600,
    JobKind.DIGEST: 300,
    JobKind.CLEANUP: 300,
}
# How long a finished job's id stays in Redis: a Slack retry or a double click within this time
# finds the job and does not run it again. Failed jobs may be submitted again at once.
RESULT_TTL_S = 24 * 3600
FAILURE_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class RetryPolicy:
    """Retry transient failures only: `retries` more attempts, waiting `intervals_s[i]` before the i-th."""

    retries: int
    intervals_s: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.retries < 0 or any(i < 0 for i in self.intervals_s) or not self.intervals_s:
            raise ValueError(f"bad retry policy {self}: retries >= 0 and intervals_s non-empty and >= 0")

    def interval_s(self, retry_number: int) -> int:
        """The wait before retry `retry_number` (1-based); the last interval repeats."""
        return self.intervals_s[min(retry_number, len(self.intervals_s)) - 1]


RETRY_OF: dict[JobKind, RetryPolicy] = {
    JobKind.PLAN: RetryPolicy(2, (5, 30)),
    JobKind.WHATIF: RetryPolicy(2, (5, 30)),
    JobKind.DEPLOY: RetryPolicy(3, (10, 60, 300)),  # the cluster API: 5xx and dropped connections
    JobKind.DIGEST: RetryPolicy(3, (60, 300, 900)),
    JobKind.CLEANUP: RetryPolicy(1, (60,)),
}


class QueueUnavailableError(Exception):
    """Redis cannot be reached; the request was not queued (the caller keeps it and says so)."""


def unavailable(url: str, exc: BaseException) -> QueueUnavailableError:
    """The message a person reads when Redis is down."""
    return QueueUnavailableError(
        f"the job queue (Redis at {redact(url)}) is unavailable: {exc}. Nothing was started and your "
        "request is kept; try again in a minute. If it persists, check that Redis is running and REDIS_URL "
        "is right."
    )


def redact(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        rest = f"{user}:***@{host}" if ":" in creds else f"{user}@{host}"
    return f"{scheme}{sep}{rest}"


def connect(settings: WorkerSettings, *, check: bool = False) -> Redis:
    """A Redis client for REDIS_URL (connect timeout 2 s); with `check`, ping it first.

    Raises:
        QueueUnavailableError: no REDIS_URL, a malformed one, or (with `check`) Redis does not answer.
    """
    import redis

    url = settings.redis_url
    if not url:
        raise QueueUnavailableError(
            "REDIS_URL is not set, so there is no job queue: jobs run inline in the process that asks for "
            "them. Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to use workers."
        )
    try:
        connection = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
    except ValueError as exc:
        raise QueueUnavailableError(f"REDIS_URL {redact(url)} is not a Redis URL: {exc}") from exc
    if check:
        try:
            connection.ping()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(url, exc) from exc
    return connection


def parse_queue_names(raw: str | Iterable[str]) -> list[str]:
    """Queue names from "interactive,deploy" (order kept, duplicates dropped).

    Raises:
        ValueError: an unknown queue name; the message lists the known ones.
    """
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    names = list(dict.fromkeys(p.strip() for p in parts if p.strip()))
    unknown = [n for n in names if n not in QUEUE_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown queue(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(QUEUE_NAMES)}"
        )
    return names
