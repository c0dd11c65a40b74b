"""The one module the bot imports from workers: typed, idempotent job submission.

With `REDIS_URL` set, jobs go to RQ queues by kind; without it they run in this process through
the same function (on a background thread for the bot, synchronously for the CLI). Job ids are
deterministic (`plan-<thread>-v3`), so a double click or a Slack retry enqueues one job.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from workers.settings import WorkerSettings

logger = logging.getLogger(__name__)


class JobKind(StrEnum):
    """What a job does; decides its queue and timeout."""

    PLAN = "plan"
    WHATIF = "whatif"
    DEPLOY = "deploy"
    DIGEST = "digest"
    CLEANUP = "cleanup"


QUEUE_OF: dict[JobKind, str] = {
    JobKind.PLAN: "interactive",
    JobKind.WHATIF: "interactive",
    JobKind.DEPLOY: "deploy",
    JobKind.DIGEST: "scheduled",
    JobKind.CLEANUP: "scheduled",
}
TIMEOUT_S: dict[JobKind, int] = {
    JobKind.PLAN: 120,
    JobKind.WHATIF: 120,
    JobKind.DEPLOY: 3600,
    JobKind.DIGEST: 300,
    JobKind.CLEANUP: 300,
}


class QueueUnavailableError(Exception):
    """Redis cannot be reached; the request was not queued (the caller keeps it and says so)."""


@dataclass(frozen=True)
class JobRef:
    """A submitted job."""

    job_id: str
    kind: JobKind
    inline: bool
    created: bool  # False when a job with this id already existed (deduplicated)


def job_id_for(kind: JobKind, *parts: object) -> str:
    """A deterministic job id from the request: only [A-Za-z0-9_-], as RQ requires."""
    raw = "-".join([kind.value, *(str(p) for p in parts)])
    return re.sub(r"[^A-Za-z0-9_-]+", "_", raw)[:200]


_inline_seen: set[str] = set()
_inline_lock = threading.Lock()


def _resolve(func: str) -> Callable[..., Any]:
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def enqueue(kind: JobKind, func: str, *args: Any, job_id: str, settings: WorkerSettings) -> JobRef:
    """Submit `func` (a dotted path, e.g. "workers.jobs.plan_thread") with primitive args.

    Raises:
        QueueUnavailableError: Redis is configured but cannot be reached.
    """
    if settings.is_inline:
        return _run_inline(kind, func, args, job_id=job_id, settings=settings)
    return _enqueue_rq(kind, func, args, job_id=job_id, settings=settings)


def _run_inline(
    kind: JobKind, func: str, args: tuple[Any, ...], *, job_id: str, settings: WorkerSettings
) -> JobRef:
    with _inline_lock:
        if job_id in _inline_seen:
            return JobRef(job_id, kind, inline=True, created=False)
        _inline_seen.add(job_id)
    target = _resolve(func)

    def run() -> None:
        try:
            target(*args)
        except Exception:
            logger.exception("inline job %s failed", job_id)

    if settings.inline_in_thread:
        threading.Thread(target=run, name=f"job-{job_id}", daemon=True).start()
    else:
        target(*args)
    return JobRef(job_id, kind, inline=True, created=True)


def _enqueue_rq(
    kind: JobKind, func: str, args: tuple[Any, ...], *, job_id: str, settings: WorkerSettings
) -> JobRef:
    import redis
    from rq import Queue
    from rq.exceptions import DuplicateJobError

    connection = redis.Redis.from_url(settings.redis_url or "", socket_connect_timeout=2)
    queue = Queue(QUEUE_OF[kind], connection=connection)
    try:
        queue.enqueue(func, *args, job_id=job_id, unique=True, job_timeout=TIMEOUT_S[kind])
    except DuplicateJobError:
        return JobRef(job_id, kind, inline=False, created=False)
    except redis.exceptions.ConnectionError as exc:
        raise QueueUnavailableError(
            f"the job queue (Redis) is unavailable: {exc}. Your request is kept; try again in a minute."
        ) from exc
    return JobRef(job_id, kind, inline=False, created=True)
