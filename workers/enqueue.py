"""The one module the bot imports from workers: typed, idempotent job submission.

With `REDIS_URL` set, jobs go to RQ queues by kind; without it they run in this process through
the same function and the same failure handling (on a background thread for the bot, synchronously
for the CLI). Job ids are deterministic (`plan-<thread>-v3`), so a double click or a Slack retry
enqueues one job; a job that failed for good may be submitted again under the same id.

Every job is recorded in the knowledge base (`predeploy jobs`), retried only on transient failures
(`workers.retry`), and on final failure its thread is told what failed and what to do
(`workers.failure`).
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workers import records
from workers.failure import Attempt, report
from workers.queues import (
    FAILURE_TTL_S,
    QUEUE_OF,
    RESULT_TTL_S,
    RETRY_OF,
    TIMEOUT_S,
    JobKind,
    QueueUnavailableError,
    RetryPolicy,
    connect,
    unavailable,
)
from workers.records import JobStatus
from workers.retry import classify, wait_s
from workers.settings import WorkerSettings

__all__ = [
    "QUEUE_OF",
    "TIMEOUT_S",
    "JobKind",
    "JobRef",
    "QueueUnavailableError",
    "enqueue",
    "job_id_for",
]

logger = logging.getLogger(__name__)

_THREAD_KEY = re.compile(r"^(cli:[^|]+|[^:|]+:[^:|]+:[^:|]+)$")
_RERUNNABLE = frozenset({"failed", "stopped", "canceled"})


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


def _resolve(func: str) -> Callable[..., Any]:
    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _thread_of(kind: JobKind, args: tuple[Any, ...], settings: WorkerSettings) -> str | None:
    """The thread a job works on, by convention: its first argument when that is a thread id, or for a
    deploy job, the thread of the plan whose id comes first."""
    first = args[0] if args else None
    if isinstance(first, str) and _THREAD_KEY.match(first):
        return first
    if kind == JobKind.DEPLOY and isinstance(first, int) and not isinstance(first, bool):
        return records.thread_of_plan(settings.database_url, first)
    return None


def enqueue(
    kind: JobKind,
    func: str,
    *args: Any,
    job_id: str,
    settings: WorkerSettings,
    thread_id: str | None = None,
    retry: RetryPolicy | None = None,
) -> JobRef:
    """Submit `func` (a dotted path, e.g. "workers.jobs.plan_thread") with primitive args.

    `thread_id` is the thread told about a final failure (default: the first argument when it is a
    thread id; for a deploy job, the thread of the plan id that comes first); `retry` overrides the
    kind's retry policy.

    Raises:
        QueueUnavailableError: Redis is configured but cannot be reached (nothing was queued).
    """
    submission = _Submission(
        kind,
        func,
        args,
        job_id,
        thread_id or _thread_of(kind, args, settings),
        retry or RETRY_OF[kind],
        settings,
    )
    if settings.is_inline:
        return _run_inline(submission)
    return _enqueue_rq(submission)


@dataclass(frozen=True)
class _Submission:
    kind: JobKind
    func: str
    args: tuple[Any, ...]
    job_id: str
    thread_id: str | None
    retry: RetryPolicy
    settings: WorkerSettings

    def mark(self, status: JobStatus, error: str | None = None) -> None:
        records.mark(
            self.settings.database_url,
            self.job_id,
            status,
            kind=self.kind,
            thread_id=self.thread_id,
            error=error,
        )


# --- RQ ------------------------------------------------------------------------------------------


def _enqueue_rq(sub: _Submission) -> JobRef:
    import redis
    from rq import Callback, Queue, Retry
    from rq.exceptions import DuplicateJobError

    connection = connect(sub.settings)
    queue = Queue(QUEUE_OF[sub.kind], connection=connection)
    try:
        if not _clear_rerunnable(connection, sub.job_id):
            return JobRef(sub.job_id, sub.kind, inline=False, created=False)
        sub.mark(JobStatus.QUEUED)  # before the push: a worker only ever writes later states
        queue.enqueue(
            sub.func,
            *sub.args,
            job_id=sub.job_id,
            unique=True,
            job_timeout=TIMEOUT_S[sub.kind],
            result_ttl=RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            retry=Retry(max=sub.retry.retries, interval=list(sub.retry.intervals_s))
            if sub.retry.retries
            else None,
            on_failure=Callback("workers.failure.on_failure"),
            on_success=Callback("workers.failure.on_success"),
            meta={"kind": sub.kind.value, "thread_id": sub.thread_id, "retries": sub.retry.retries},
            description=f"{sub.kind.value} {sub.func}",
        )
    except DuplicateJobError:  # an identical request won the race between the check and the push
        return JobRef(sub.job_id, sub.kind, inline=False, created=False)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        error = unavailable(sub.settings.redis_url or "", exc)
        sub.mark(JobStatus.NOT_QUEUED, str(error))
        raise error from exc
    return JobRef(sub.job_id, sub.kind, inline=False, created=True)


def _clear_rerunnable(connection: Any, job_id: str) -> bool:
    """True when `job_id` may be queued: no such job, or it failed for good (then it is removed)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return True
    status = job.get_status(refresh=False)
    if status is None or getattr(status, "value", status) not in _RERUNNABLE:
        return False
    job.delete()
    return True


# --- inline --------------------------------------------------------------------------------------

_inline_active: set[str] = set()  # ids queued or running in this process
_inline_done: set[str] = set()  # ids that finished in this process
_inline_lock = threading.Lock()


def _run_inline(sub: _Submission) -> JobRef:
    with _inline_lock:
        if sub.job_id in _inline_active or sub.job_id in _inline_done:
            return JobRef(sub.job_id, sub.kind, inline=True, created=False)
        _inline_active.add(sub.job_id)
    sub.mark(JobStatus.QUEUED)
    if sub.settings.inline_in_thread:
        threading.Thread(target=_attempts, args=(sub, False), name=f"job-{sub.job_id}", daemon=True).start()
    else:
        _attempts(sub, True)
    return JobRef(sub.job_id, sub.kind, inline=True, created=True)


def _attempts(sub: _Submission, reraise: bool, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run a job inline: attempts with the kind's backoff on transient failures, as a worker would."""
    target = _resolve(sub.func)
    number = 1
    try:
        while True:
            sub.mark(JobStatus.STARTED)
            try:
                result = target(*sub.args)
            except Exception as exc:
                verdict = classify(exc)
                retry_in = None
                if verdict.transient and number <= sub.retry.retries:
                    retry_in = wait_s(sub.retry.interval_s(number), verdict)
                attempt = Attempt(
                    sub.job_id, sub.kind, sub.func, sub.args, sub.thread_id, number, TIMEOUT_S[sub.kind]
                )
                report(attempt, exc, verdict, retry_in_s=retry_in, settings=sub.settings)
                if retry_in is None:
                    if reraise:
                        raise
                    logger.exception("inline job %s failed", sub.job_id)
                    return
                sleep(retry_in)
                number += 1
                continue
            _finish_inline(sub, result)
            return
    finally:
        with _inline_lock:
            _inline_active.discard(sub.job_id)


def _finish_inline(sub: _Submission, result: Any) -> None:
    records.mark(
        sub.settings.database_url,
        sub.job_id,
        JobStatus.FINISHED,
        kind=sub.kind,
        thread_id=sub.thread_id,
        result_ref=None if result is None else str(result)[:200],
    )
    with _inline_lock:
        _inline_done.add(sub.job_id)


def forget_inline() -> None:
    """Forget which inline jobs ran (tests)."""
    with _inline_lock:
        _inline_active.clear()
        _inline_done.clear()
