from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kb import threads
from kb.errors import NotFoundError
from planner.errors import PlannerError
from planner.thread import ThreadStatus as S

T0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    with Session(migrated_engine) as s:
        yield s


def _thread(session: Session, ts: str = "1700000000.000100") -> str:
    state = threads.get_or_create_thread(
        session=session, team_id="T1", channel_id="C1", thread_ts=ts, user_id="U1"
    )
    return state.id


def test_get_or_create_is_idempotent(session: Session) -> None:
    first = threads.get_or_create_thread(
        session=session, team_id="T1", channel_id="C1", thread_ts="1.1", user_id="U1"
    )
    again = threads.get_or_create_thread(
        session=session, team_id="T1", channel_id="C1", thread_ts="1.1", user_id="U2"
    )
    assert first == again
    assert first.id == "T1:C1:1.1" and first.status is S.CONTEXT_COLLECTION and first.spec is None
    assert threads.get_thread(session=session, thread_id="nope") is None


def test_a_retried_slack_event_is_stored_once(session: Session) -> None:
    tid = _thread(session)
    assert threads.add_message(
        session=session, thread_id=tid, user_id="U1", text="chatbot for 500 users", ts="1.1"
    )
    assert not threads.add_message(
        session=session, thread_id=tid, user_id="U1", text="chatbot for 500 users", ts="1.1"
    )
    assert threads.add_message(
        session=session, thread_id=tid, user_id="U1", text="p95 under 300 ms", ts="1.2"
    )
    session.commit()
    state = threads.get_thread(session=session, thread_id=tid)
    assert state is not None and state.messages == ("chatbot for 500 users", "p95 under 300 ms")


def test_status_follows_the_state_machine(session: Session) -> None:
    tid = _thread(session)
    assert (
        threads.set_status(session=session, thread_id=tid, status=S.SPECIFICATION_REVIEW, at=T0)
        is S.SPECIFICATION_REVIEW
    )
    with pytest.raises(PlannerError, match="SpecificationReview.*not DeploymentExecution"):
        threads.set_status(session=session, thread_id=tid, status=S.DEPLOYMENT_EXECUTION)
    state = threads.get_thread(session=session, thread_id=tid)
    assert state is not None and state.status is S.SPECIFICATION_REVIEW
    with pytest.raises(NotFoundError):
        threads.set_status(session=session, thread_id="T9:C9:0", status=S.SPECIFICATION_REVIEW)


def test_spec_versions_plans_and_choices(session: Session) -> None:
    tid = _thread(session)
    assert threads.latest_spec(session=session, thread_id=tid) is None
    assert threads.add_spec_version(session=session, thread_id=tid, spec={"users": 500}, author="U1") == 1
    assert threads.add_spec_version(session=session, thread_id=tid, spec={"users": 800}, author="U1") == 2
    assert threads.latest_spec(session=session, thread_id=tid) == (2, {"users": 800})
    plan_id = threads.save_plan(
        session=session, thread_id=tid, spec_version=2, result={"options": [{"rank": 1}]}
    )
    plan = threads.get_plan(session=session, plan_id=plan_id)
    assert plan is not None and plan["result"] == {"options": [{"rank": 1}]} and plan["spec_version"] == 2
    assert plan["created_at"].tzinfo is not None
    threads.record_choice(session=session, thread_id=tid, plan_id=plan_id, rank=1, user_id="U1", at=T0)
    session.commit()
    state = threads.get_thread(session=session, thread_id=tid)
    assert state is not None
    assert (state.spec_version, state.spec, state.plan_id, state.chosen_rank) == (
        2,
        {"users": 800},
        plan_id,
        1,
    )
    with pytest.raises(NotFoundError):
        threads.record_choice(session=session, thread_id=tid, plan_id=999, rank=1, user_id="U1")
    assert threads.get_plan(session=session, plan_id=999) is None


def test_approvals_are_one_per_option(session: Session) -> None:
    tid = _thread(session)
    plan_id = threads.save_plan(session=session, thread_id=tid, spec_version=0, result={})
    assert threads.get_approval(session=session, plan_id=plan_id, rank=1) is None
    threads.record_approval(
        session=session,
        plan_id=plan_id,
        rank=1,
        requested_by="U1",
        decided_by=None,
        decision="pending",
        reason="",
        at=T0,
    )
    later = T0 + dt.timedelta(minutes=5)
    threads.record_approval(
        session=session, plan_id=plan_id, rank=1, requested_by="U1", decided_by="UADMIN", decision="approved",
        reason="fits the budget", at=later,
    )  # fmt: skip
    session.commit()
    approval = threads.get_approval(session=session, plan_id=plan_id, rank=1)
    assert approval == {
        "plan_id": plan_id, "rank": 1, "requested_by": "U1", "decided_by": "UADMIN",
        "decision": "approved", "reason": "fits the budget", "at": later,
    }  # fmt: skip


def test_jobs(session: Session) -> None:
    tid = _thread(session)
    threads.record_job(session=session, job_id="plan-1", thread_id=tid, kind="plan", status="queued", at=T0)
    threads.record_job(
        session=session, job_id="apply-7", thread_id=None, kind="apply", status="queued", at=T0
    )
    threads.update_job(
        session=session, job_id="apply-7", status="failed", error="quota", at=T0 + dt.timedelta(seconds=3)
    )
    threads.update_job(
        session=session,
        job_id="plan-1",
        status="finished",
        result_ref="plan:1",
        at=T0 + dt.timedelta(seconds=9),
    )
    session.commit()
    jobs = threads.list_jobs(session=session, limit=5)
    assert [j["id"] for j in jobs] == ["plan-1", "apply-7"]
    assert jobs[0]["result_ref"] == "plan:1" and jobs[1]["error"] == "quota"
    assert jobs[0]["updated_at"] == T0 + dt.timedelta(seconds=9) and jobs[0]["created_at"] == T0
    assert len(threads.list_jobs(session=session, limit=1)) == 1
    with pytest.raises(NotFoundError):
        threads.update_job(session=session, job_id="nope", status="finished")


def test_stale_threads(session: Session) -> None:
    old, fresh, done = _thread(session, "1.0"), _thread(session, "2.0"), _thread(session, "3.0")
    threads.set_status(session=session, thread_id=old, status=S.SPECIFICATION_REVIEW, at=T0)
    threads.set_status(
        session=session, thread_id=fresh, status=S.SPECIFICATION_REVIEW, at=T0 + dt.timedelta(hours=2)
    )
    threads.set_status(session=session, thread_id=done, status=S.SPECIFICATION_REVIEW, at=T0)
    for status in (S.TRAFFIC_PROFILE_GENERATION, S.FAILED):
        threads.set_status(session=session, thread_id=done, status=status, at=T0)
    session.commit()
    stale = threads.list_stale_threads(session=session, older_than=T0 + dt.timedelta(hours=1))
    assert [s.id for s in stale] == [old]


def test_naive_datetimes_are_refused(session: Session) -> None:
    tid = _thread(session)
    with pytest.raises(ValueError, match="no time zone"):
        threads.set_status(
            session=session, thread_id=tid, status=S.SPECIFICATION_REVIEW, at=dt.datetime(2026, 1, 1)
        )
