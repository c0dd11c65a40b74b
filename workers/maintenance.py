"""Periodic housekeeping: jobs whose worker died, and threads stuck with nothing working on them.

`cleanup()` is the scheduled job (see `workers.schedule`); `recover_abandoned()` also runs when a
worker starts. A job whose worker process is gone is handed to RQ's own abandoned-job handling
(`StartedJobRegistry.cleanup`): the job's failure callback runs, then RQ retries it when retries
remain or moves it to the failed registry, and the thread is told. RQ alone notices this only when
the job's heartbeat expires (a minute or more, at the next registry cleanup up to 10 minutes later);
a dead process on this host is noticed at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from planner.thread import ThreadStatus
from workers import records
from workers.failure import post_to_thread
from workers.queues import QUEUE_NAMES, connect
from workers.records import JobStatus
from workers.settings import WorkerSettings, load_settings

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

S = ThreadStatus
# States in which predeploy, not the user, owes the next step: stuck when nothing is running.
WORKING = frozenset(
    {
        S.TRAFFIC_PROFILE_GENERATION,
        S.MODEL_RECOMMENDATION,
        S.CAPACITY_PLANNING,
        S.DEPLOYMENT_EXECUTION,
        S.POST_DEPLOYMENT_VALIDATION,
        S.OBSERVABILITY_SETUP,
    }
)
STUCK_AFTER_S = 2 * 3600  # longer than the longest job (deploy: 1 h)
APPROVAL_EXPIRES_AFTER_S = 7 * 24 * 3600
LIVE_JOB = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.RETRYING)


def cleanup() -> dict[str, Any]:
    """The scheduled job: recover jobs of dead workers, then close stuck threads. Returns counts."""
    settings = load_settings()
    recovered: list[str] = []
    if not settings.is_inline:
        recovered = recover_abandoned(connect(settings))
    closed = cleanup_stale_threads(settings=settings, now=dt.datetime.now(dt.UTC))
    return {"recovered_jobs": recovered, **closed}


# --- jobs of dead workers ------------------------------------------------------------------------


def recover_abandoned(connection: Redis, queue_names: tuple[str, ...] = QUEUE_NAMES) -> list[str]:
    """Hand jobs whose worker process is gone to RQ's abandoned-job handling; returns their ids."""
    from rq import Queue
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    recovered: list[str] = []
    for name in queue_names:
        registry = Queue(name, connection=connection).started_job_registry
        dead: dict[str, float] = {}
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                job = Job.fetch(job_id, connection=connection)
            except NoSuchJobError:
                continue
            if is_worker_dead(connection, job.worker_name):
                dead[f"{job_id}:{execution_id}"] = 1.0  # an expiry in 1970: RQ treats it as abandoned
                recovered.append(job_id)
        if dead:
            logger.warning("jobs %s in %s: their worker is gone; recovering", sorted(dead), name)
            connection.zadd(registry.key, dead, xx=True)  # type: ignore[arg-type,unused-ignore]
            registry.cleanup()
    return recovered


def is_worker_dead(connection: Redis, worker_name: str | None) -> bool:
    """True when the worker is unregistered, or registered on this host with no such process."""
    if not worker_name:
        return False
    hostname, pid = connection.hmget(f"rq:worker:{worker_name}", ["hostname", "pid"])
    if hostname is None and pid is None:
        return not bool(connection.exists(f"rq:worker:{worker_name}"))
    if _text(hostname) != socket.gethostname() or pid is None:
        return False  # another host: RQ's heartbeat expiry decides
    try:
        os.kill(int(_text(pid)), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- stuck threads -------------------------------------------------------------------------------


def cleanup_stale_threads(
    *,
    settings: WorkerSettings,
    now: dt.datetime,
    stuck_after_s: int = STUCK_AFTER_S,
    approval_expires_after_s: int = APPROVAL_EXPIRES_AFTER_S,
) -> dict[str, int]:
    """Fail threads stuck in a working state with no live job, and approval requests left too long.

    Each closed thread is told why and what to do. Threads waiting for their user are left alone.
    """
    from kb import threads as kb_threads

    counts = {"stuck": 0, "expired_approvals": 0, "waiting_for_user": 0}
    told: list[tuple[str, str]] = []
    with records.sessions_for(settings.database_url)() as session, session.begin():
        older = now - dt.timedelta(seconds=stuck_after_s)
        for state in kb_threads.list_stale_threads(session=session, older_than=older):
            text = _close_reason(
                session, state.id, state.status, now=now, approval_s=approval_expires_after_s
            )
            if text is None:
                counts["waiting_for_user"] += 1
                continue
            kb_threads.set_status(session=session, thread_id=state.id, status=S.FAILED, at=now)
            counts["stuck" if state.status in WORKING else "expired_approvals"] += 1
            told.append((state.id, text))
    for thread_id, text in told:  # after the commit: a post never stands for an unsaved change
        post_to_thread(settings, thread_id, text, ref=f"cleanup-{now:%Y%m%d%H%M}")
    return counts


def _close_reason(
    session: Session, thread_id: str, status: ThreadStatus, *, now: dt.datetime, approval_s: int
) -> str | None:
    if status in WORKING and not _has_live_job(session, thread_id):
        return (
            f"This request stopped making progress: it was in {status} with no job working on it "
            "(a worker was probably restarted). Nothing is running now; plan again, or approve the "
            "option again, to continue."
        )
    if status == S.CONFIGURATION_FINALIZED and _idle_since(session, thread_id) < now - dt.timedelta(
        seconds=approval_s
    ):
        days = approval_s / 86400
        return (
            f"The approval request in this thread expired after {days:g} days without a decision, so "
            "nothing was deployed. Choose an option again to ask for approval."
        )
    return None


def _has_live_job(session: Session, thread_id: str) -> bool:
    from sqlalchemy import select

    from kb.tables import Job

    query = select(Job.id).where(Job.thread_id == thread_id, Job.status.in_([s.value for s in LIVE_JOB]))
    return session.scalars(query.limit(1)).first() is not None


def _idle_since(session: Session, thread_id: str) -> dt.datetime:
    from kb.tables import Thread
    from kb.timeutil import as_utc

    row = session.get(Thread, thread_id)
    return as_utc(row.updated_at) if row is not None else dt.datetime.max.replace(tzinfo=dt.UTC)
