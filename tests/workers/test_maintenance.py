"""Cleanup of stuck threads (and who is told), and recovery of jobs whose worker died."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kb import threads as kb_threads
from planner.thread import ThreadStatus as S
from tests.bot.slack_stub import SlackStub
from workers import records
from workers.maintenance import cleanup_stale_threads, is_worker_dead
from workers.records import JobStatus
from workers.settings import WorkerSettings

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
PATH = {
    S.SPECIFICATION_REVIEW: [S.SPECIFICATION_REVIEW],
    S.CAPACITY_PLANNING: [
        S.SPECIFICATION_REVIEW,
        S.TRAFFIC_PROFILE_GENERATION,
        S.MODEL_RECOMMENDATION,
        S.CAPACITY_PLANNING,
    ],
}
PATH[S.CONFIGURATION_FINALIZED] = [
    *PATH[S.CAPACITY_PLANNING],
    S.PRESENTING_OPTIONS,
    S.CONFIGURATION_FINALIZED,
]
PATH[S.DEPLOYMENT_EXECUTION] = [*PATH[S.CONFIGURATION_FINALIZED], S.DEPLOYMENT_EXECUTION]


def make_thread(url: str, channel: str, status: S, idle: dt.timedelta) -> str:
    with records.sessions_for(url)() as session, session.begin():
        state = kb_threads.get_or_create_thread(
            session=session, team_id="T1", channel_id=channel, thread_ts="5.5", user_id="U1"
        )
        for step in PATH[status]:
            kb_threads.set_status(session=session, thread_id=state.id, status=step, at=NOW - idle)
    return state.id


def test_stuck_threads_and_expired_approvals_are_closed_and_told(
    inline_settings: WorkerSettings, stub: SlackStub
) -> None:
    url = inline_settings.database_url
    hours, days = dt.timedelta(hours=3), dt.timedelta(days=8)
    stuck = make_thread(url, "CSTUCK", S.CAPACITY_PLANNING, hours)
    deploying = make_thread(url, "CDEPLOY", S.DEPLOYMENT_EXECUTION, hours)
    records.mark(url, "deploy-9-1", JobStatus.STARTED, kind="deploy", thread_id=deploying)
    expired = make_thread(url, "CEXPIRED", S.CONFIGURATION_FINALIZED, days)
    pending = make_thread(url, "CPENDING", S.CONFIGURATION_FINALIZED, hours)
    review = make_thread(url, "CREVIEW", S.SPECIFICATION_REVIEW, days)
    fresh = make_thread(url, "CFRESH", S.CAPACITY_PLANNING, dt.timedelta(minutes=5))

    counts = cleanup_stale_threads(settings=inline_settings, now=NOW)
    assert counts == {"stuck": 1, "expired_approvals": 1, "waiting_for_user": 3}

    with records.sessions_for(url)() as session:
        status = {
            t: kb_threads.get_thread(session=session, thread_id=t).status
            for t in (stuck, deploying, expired, pending, review, fresh)
        }
    assert status == {
        stuck: S.FAILED,
        deploying: S.DEPLOYMENT_EXECUTION,
        expired: S.FAILED,
        pending: S.CONFIGURATION_FINALIZED,
        review: S.SPECIFICATION_REVIEW,
        fresh: S.CAPACITY_PLANNING,
    }
    posts = {c.params["channel"]: c.params["text"] for c in stub.of("chat.postMessage")}
    assert set(posts) == {"CSTUCK", "CEXPIRED"}
    assert "stopped making progress: it was in CapacityPlanning with no job working on it" in posts["CSTUCK"]
    assert "plan again" in posts["CSTUCK"]
    assert "approval request in this thread expired after 7 days" in posts["CEXPIRED"]

    again = cleanup_stale_threads(settings=inline_settings, now=NOW)
    assert again == {"stuck": 0, "expired_approvals": 0, "waiting_for_user": 3}
    assert len(stub.of("chat.postMessage")) == 2  # told once


@pytest.mark.redis
def test_worker_liveness(redis_conn: Any) -> None:
    import os
    import socket

    redis_conn.hset("rq:worker:alive", mapping={"hostname": socket.gethostname(), "pid": os.getpid()})
    redis_conn.hset("rq:worker:gone", mapping={"hostname": socket.gethostname(), "pid": 2**22 + 17})
    redis_conn.hset("rq:worker:remote", mapping={"hostname": "elsewhere", "pid": 1})
    assert not is_worker_dead(redis_conn, "alive")
    assert is_worker_dead(redis_conn, "gone")
    assert not is_worker_dead(redis_conn, "remote")  # RQ's heartbeat expiry decides for other hosts
    assert is_worker_dead(redis_conn, "never-registered")
    assert not is_worker_dead(redis_conn, None)
