"""Job records in the knowledge base: what ran, for which thread, how it ended.

The `jobs` table (kb) is the durable record that `predeploy jobs` lists; Redis holds the queue and
expires its entries. Writing a record never decides whether a job runs: when the database cannot
be written the job still runs (or stays queued) and the miss is logged with its traceback.
"""

from __future__ import annotations

import logging
import os
import threading
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from kb.errors import KbError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)


class JobStatus(StrEnum):
    """A job's state as recorded in the knowledge base."""

    QUEUED = "queued"
    STARTED = "started"
    RETRYING = "retrying"  # failed transiently; another attempt is queued or scheduled
    FINISHED = "finished"
    FAILED = "failed"  # final: the thread was told what failed and what to do
    NOT_QUEUED = "not_queued"  # Redis was down when it was submitted; the user was told to retry


TERMINAL = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.NOT_QUEUED})

_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.Lock()


def sessions_for(database_url: str | None) -> sessionmaker[Session]:
    """Sessions on the knowledge base (schema upgraded when behind), one engine per URL and process.

    Raises:
        DatabaseUnavailableError: the database cannot be reached or migrated.
    """
    from kb.schema import current_revision, head_revision, upgrade
    from kb.session import default_database_url, make_engine, make_session_factory

    url = database_url or default_database_url()
    with _lock:
        if url not in _factories:
            engine = make_engine(url)
            if current_revision(engine) != head_revision():
                upgrade(engine)
            _factories[url] = make_session_factory(engine)
        return _factories[url]


def _after_fork_in_child() -> None:
    """A forked job process must not share the parent's database connections (nor a held lock)."""
    global _lock
    _lock = threading.Lock()
    for factory in _factories.values():
        bind: Any = factory.kw.get("bind")
        if bind is not None:
            bind.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def forget() -> None:
    """Dispose of the cached engines (tests; after a fork, engines must not be shared)."""
    with _lock:
        for factory in _factories.values():
            bind: Any = factory.kw.get("bind")
            if bind is not None:
                bind.dispose()
        _factories.clear()


def mark(
    database_url: str | None,
    job_id: str,
    status: JobStatus,
    *,
    kind: str,
    thread_id: str | None = None,
    error: str | None = None,
    result_ref: str | None = None,
) -> bool:
    """Insert or update the record of a job; False (and a logged traceback) when the database failed."""
    from kb import threads as kb_threads
    from kb.tables import Thread

    try:
        with sessions_for(database_url)() as session, session.begin():
            known = thread_id if thread_id and session.get(Thread, thread_id) is not None else None
            existing = kb_threads.get_job(session=session, job_id=job_id)
            if existing is None:
                kb_threads.record_job(
                    session=session, job_id=job_id, thread_id=known, kind=kind, status=status, error=error
                )
            if existing is None and result_ref is None:
                return True
            kb_threads.update_job(
                session=session, job_id=job_id, status=status, error=error, result_ref=result_ref
            )
        return True
    except (KbError, SQLAlchemyError):
        logger.exception("could not record job %s as %s", job_id, status)
        return False


def get(database_url: str | None, job_id: str) -> dict[str, Any] | None:
    """The record of one job, or None."""
    from kb import threads as kb_threads

    with sessions_for(database_url)() as session:
        return kb_threads.get_job(session=session, job_id=job_id)


def recent(database_url: str | None, *, limit: int = 20) -> list[dict[str, Any]]:
    """The most recently updated job records first."""
    from kb import threads as kb_threads

    with sessions_for(database_url)() as session:
        return kb_threads.list_jobs(session=session, limit=limit)


def thread_of_plan(database_url: str | None, plan_id: int) -> str | None:
    """The thread a stored plan belongs to; None when there is no such plan or no database."""
    from kb import threads as kb_threads

    try:
        with sessions_for(database_url)() as session:
            plan = kb_threads.get_plan(session=session, plan_id=plan_id)
    except (KbError, SQLAlchemyError):
        logger.exception("could not look up the thread of plan %s", plan_id)
        return None
    return None if plan is None else str(plan["thread_id"])
