"""The state of each conversation thread: messages, spec versions, plans, choices, approvals, jobs.

Any process (bot, worker, CLI) can pick a thread up from here after a restart. Status changes go
through `planner.thread.transition`, so an illegal move raises instead of being stored. Functions
flush but never commit: the caller owns the transaction. Datetimes are passed in (aware, UTC);
when a caller passes none, the database's clock stamps the row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kb.errors import NotFoundError
from kb.thread_tables import Approval, Choice, Job, PlanRow, SpecVersion, Thread, ThreadMessage
from kb.timeutil import as_utc, to_db
from planner.thread import ThreadState, ThreadStatus, transition

TERMINAL = frozenset({ThreadStatus.SUCCESS, ThreadStatus.FEEDBACK_LOOP, ThreadStatus.FAILED})


def thread_key(team_id: str, channel_id: str, thread_ts: str) -> str:
    return f"{team_id}:{channel_id}:{thread_ts}"


def _insert_ignore(session: Session, table: Any, values: dict[str, Any], conflict: list[str]) -> bool:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING; True when a row was inserted."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt: Insert = module.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    # rowcount is unreliable here across drivers; a returned key means a row went in.
    return session.execute(stmt.returning(*table.__table__.primary_key.columns)).first() is not None


def _stamp(at: dt.datetime | None) -> Any:
    return func.now() if at is None else to_db(at)


def get_or_create_thread(
    *, session: Session, team_id: str, channel_id: str, thread_ts: str, user_id: str
) -> ThreadState:
    """The thread of this Slack conversation, created in ContextCollection on first sight."""
    thread_id = thread_key(team_id, channel_id, thread_ts)
    values = {
        "id": thread_id,
        "team_id": team_id,
        "channel_id": channel_id,
        "thread_ts": thread_ts,
        "user_id": user_id,
        "status": ThreadStatus.CONTEXT_COLLECTION.value,
    }
    _insert_ignore(session, Thread, values, ["id"])
    state = get_thread(session=session, thread_id=thread_id)
    if state is None:  # pragma: no cover - the insert above guarantees the row
        raise NotFoundError(f"thread {thread_id} vanished while being created")
    return state


def _require_thread(session: Session, thread_id: str) -> Thread:
    row = session.get(Thread, thread_id)
    if row is None:
        raise NotFoundError(f"no thread {thread_id!r} is stored; start a new conversation")
    return row


def get_thread(*, session: Session, thread_id: str) -> ThreadState | None:
    """Everything known about a thread, or None."""
    row = session.get(Thread, thread_id)
    if row is None:
        return None
    latest = latest_spec(session=session, thread_id=thread_id)
    plan_id = session.scalar(select(func.max(PlanRow.id)).where(PlanRow.thread_id == thread_id))
    choice = session.scalars(
        select(Choice).where(Choice.thread_id == thread_id).order_by(Choice.id.desc()).limit(1)
    ).first()
    texts = session.scalars(
        select(ThreadMessage.text)
        .where(ThreadMessage.thread_id == thread_id, ThreadMessage.kind == "request")
        .order_by(ThreadMessage.seq)
    )
    return ThreadState(
        id=row.id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        user_id=row.user_id,
        status=ThreadStatus(row.status),
        spec_version=latest[0] if latest else 0,
        spec=latest[1] if latest else None,
        plan_id=plan_id,
        chosen_rank=choice.rank if choice is not None and choice.plan_id == plan_id else None,
        messages=tuple(texts),
    )


def set_status(
    *, session: Session, thread_id: str, status: ThreadStatus, at: dt.datetime | None = None
) -> ThreadStatus:
    """Move a thread to `status`.

    Raises:
        PlannerError: the state machine does not allow the move (nothing is stored).
        NotFoundError: no such thread.
    """
    row = _require_thread(session, thread_id)
    row.status = transition(ThreadStatus(row.status), ThreadStatus(status)).value
    row.updated_at = _stamp(at)
    session.flush()
    return ThreadStatus(row.status)


MESSAGE_KINDS = ("request", "whatif")


def add_message(
    *, session: Session, thread_id: str, user_id: str, text: str, ts: str, kind: str = "request"
) -> bool:
    """Store a message; False when this ts is already stored (Slack retried the event). `kind` is
    "request" (the spec is read from these) or "whatif" (a question about a plan, kept out of the spec)."""
    if kind not in MESSAGE_KINDS:
        raise ValueError(f"message kind {kind!r} is not one of {MESSAGE_KINDS}")
    _require_thread(session, thread_id)
    last = session.scalar(select(func.max(ThreadMessage.seq)).where(ThreadMessage.thread_id == thread_id))
    values = {
        "thread_id": thread_id,
        "seq": (last or 0) + 1,
        "user_id": user_id,
        "text": text,
        "ts": ts,
        "kind": kind,
    }
    return _insert_ignore(session, ThreadMessage, values, ["thread_id", "ts"])


def add_spec_version(*, session: Session, thread_id: str, spec: dict[str, Any], author: str) -> int:
    """Store a new version of the thread's spec; returns its number (1, 2, ...)."""
    _require_thread(session, thread_id)
    last = session.scalar(select(func.max(SpecVersion.version)).where(SpecVersion.thread_id == thread_id))
    version = (last or 0) + 1
    session.add(SpecVersion(thread_id=thread_id, version=version, spec=spec, author=author))
    session.flush()
    return version


def latest_spec(*, session: Session, thread_id: str) -> tuple[int, dict[str, Any]] | None:
    row = session.scalars(
        select(SpecVersion)
        .where(SpecVersion.thread_id == thread_id)
        .order_by(SpecVersion.version.desc())
        .limit(1)
    ).first()
    return (row.version, dict(row.spec)) if row is not None else None


def save_plan(*, session: Session, thread_id: str, spec_version: int, result: dict[str, Any]) -> int:
    """Store a planning result (the Plan JSON); returns the plan id."""
    _require_thread(session, thread_id)
    row = PlanRow(thread_id=thread_id, spec_version=spec_version, result=result)
    session.add(row)
    session.flush()
    return row.id


def get_plan(*, session: Session, plan_id: int) -> dict[str, Any] | None:
    """{id, thread_id, spec_version, result, created_at} or None."""
    row = session.get(PlanRow, plan_id)
    if row is None:
        return None
    return {
        "id": row.id,
        "thread_id": row.thread_id,
        "spec_version": row.spec_version,
        "result": dict(row.result),
        "created_at": as_utc(row.created_at),
    }


def record_choice(
    *, session: Session, thread_id: str, plan_id: int, rank: int, user_id: str, at: dt.datetime | None = None
) -> None:
    """Record that a user picked option `rank` of a plan (the latest choice wins)."""
    if session.get(PlanRow, plan_id) is None:
        raise NotFoundError(f"no plan {plan_id} is stored; plan again before choosing")
    session.add(Choice(thread_id=thread_id, plan_id=plan_id, rank=rank, user_id=user_id, at=_stamp(at)))
    session.flush()


def record_approval(
    *,
    session: Session,
    plan_id: int,
    rank: int,
    requested_by: str,
    decided_by: str | None,
    decision: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> None:
    """Insert or update the approval of option `rank` of a plan ("pending" | "approved" | "rejected")."""
    if session.get(PlanRow, plan_id) is None:
        raise NotFoundError(f"no plan {plan_id} is stored; nothing to approve")
    row = session.scalars(select(Approval).where(Approval.plan_id == plan_id, Approval.rank == rank)).first()
    if row is None:
        row = Approval(plan_id=plan_id, rank=rank)
        session.add(row)
    row.requested_by, row.decided_by, row.decision, row.reason = requested_by, decided_by, decision, reason
    row.at = _stamp(at)
    session.flush()


def get_approval(*, session: Session, plan_id: int, rank: int) -> dict[str, Any] | None:
    row = session.scalars(select(Approval).where(Approval.plan_id == plan_id, Approval.rank == rank)).first()
    if row is None:
        return None
    return {
        "plan_id": row.plan_id,
        "rank": row.rank,
        "requested_by": row.requested_by,
        "decided_by": row.decided_by,
        "decision": row.decision,
        "reason": row.reason,
        "at": as_utc(row.at),
    }


def record_job(
    *,
    session: Session,
    job_id: str,
    thread_id: str | None,
    kind: str,
    status: str,
    error: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Insert or replace a job record (id = the RQ job id)."""
    row = session.get(Job, job_id)
    if row is None:
        row = Job(id=job_id, created_at=_stamp(at))
        session.add(row)
    row.thread_id, row.kind, row.status, row.error = thread_id, kind, status, error
    row.updated_at = _stamp(at)
    session.flush()


def update_job(
    *,
    session: Session,
    job_id: str,
    status: str,
    error: str | None = None,
    result_ref: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Change a job's status (and error / result reference).

    Raises:
        NotFoundError: no job with this id was recorded.
    """
    row = session.get(Job, job_id)
    if row is None:
        raise NotFoundError(f"no job {job_id!r} is recorded")
    row.status, row.error = status, error
    if result_ref is not None:
        row.result_ref = result_ref
    row.updated_at = _stamp(at)
    session.flush()


def _job_dict(row: Job) -> dict[str, Any]:
    return {
        "id": row.id,
        "thread_id": row.thread_id,
        "kind": row.kind,
        "status": row.status,
        "error": row.error,
        "result_ref": row.result_ref,
        "created_at": as_utc(row.created_at),
        "updated_at": as_utc(row.updated_at),
    }


def get_job(*, session: Session, job_id: str) -> dict[str, Any] | None:
    row = session.get(Job, job_id)
    return None if row is None else _job_dict(row)


def list_jobs(*, session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The most recently updated jobs first."""
    rows = session.scalars(select(Job).order_by(Job.updated_at.desc(), Job.id).limit(limit))
    return [_job_dict(row) for row in rows]


def list_stale_threads(*, session: Session, older_than: dt.datetime) -> list[ThreadState]:
    """Threads not finished and not touched since `older_than` (oldest first)."""
    query = (
        select(Thread.id)
        .where(Thread.updated_at < to_db(older_than), Thread.status.not_in([s.value for s in TERMINAL]))
        .order_by(Thread.updated_at)
    )
    states = (get_thread(session=session, thread_id=tid) for tid in list(session.scalars(query)))
    return [s for s in states if s is not None]
