"""`predeploy worker` and `predeploy jobs`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli
from tests.redis_db import flush, run_redis_url
from workers import records
from workers.records import JobStatus

runner = CliRunner()
REDIS_URL = run_redis_url()  # this run's own database


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("REDIS_URL", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    yield seeded_env
    records.forget()


@pytest.fixture
def redis_env(env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required under CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    flush(conn)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    yield conn
    flush(conn)
    conn.close()


def test_jobs_when_none_ran(env: str) -> None:
    code, out, _ = run("jobs")
    assert code == 0 and out.strip() == "no jobs recorded yet"


def test_jobs_lists_newest_first_with_state_and_error(env: str) -> None:
    records.mark(env, "plan-a-v1", JobStatus.FINISHED, kind="plan", result_ref="7")
    records.mark(env, "deploy-7-1", JobStatus.FAILED, kind="deploy", error="I could not deploy: HTTP 503")
    code, out, _ = run("jobs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["JOB", "KIND", "STATUS", "LIVE", "THREAD", "UPDATED", "ERROR"]
    assert {lines[1].split()[0], lines[2].split()[0]} == {"plan-a-v1", "deploy-7-1"}
    assert "failed" in out and "I could not deploy: HTTP 503" in out

    code, out, _ = run("jobs", "--json", "--limit", "1")
    [row] = json.loads(out)
    assert set(row) >= {"id", "kind", "status", "thread_id", "error", "updated_at", "live"}
    assert row["live"] is None  # no REDIS_URL: inline jobs have no live state


def test_jobs_rejects_a_bad_limit(env: str) -> None:
    code, _, err = run("jobs", "--limit", "0")
    assert code == 2 and "--limit" in err


def test_worker_needs_redis(env: str) -> None:
    code, _, err = run("worker", "--burst")
    assert code == 1
    assert "REDIS_URL is not set: without Redis, jobs run inline" in err


def test_worker_refuses_unknown_queues(env: str) -> None:
    code, _, err = run("worker", "--queues", "interactive,fast")
    assert code == 2 and "unknown queue(s) fast; choose from interactive, deploy, scheduled" in err


def test_worker_says_when_redis_is_down(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    code, _, err = run("worker", "--burst")
    assert code == 1 and "job queue (Redis at redis://127.0.0.1:1/0) is unavailable" in err


@pytest.mark.redis
def test_worker_burst_runs_queued_jobs_and_jobs_shows_them(redis_env: Any, env: str, tmp_path: Path) -> None:
    from tests.workers.jobs_for_tests import attempts
    from workers.enqueue import JobKind, enqueue
    from workers.settings import load_settings

    tally = str(tmp_path / "tally")
    enqueue(
        JobKind.PLAN,
        "tests.workers.jobs_for_tests.double",
        tally,
        4,
        job_id="plan-cli",
        settings=load_settings(),
    )
    code, out, _ = run("jobs", "--json")
    assert [(r["id"], r["status"], r["live"]) for r in json.loads(out)] == [("plan-cli", "queued", "queued")]

    code, _, err = run("worker", "--burst", "--no-fork", "--no-cron", "--queues", "interactive")
    assert code == 0, err
    assert attempts(tally) == 1
    code, out, _ = run("jobs", "--json")
    [row] = json.loads(out)
    assert (row["status"], row["live"], row["result_ref"]) == ("finished", "finished", "8")


def test_jobs_still_lists_records_when_redis_is_down(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    records.mark(env, "plan-x", JobStatus.QUEUED, kind="plan")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    code, out, err = run("jobs")
    assert code == 0 and "plan-x" in out and "queued" in out
    assert "note: live states not shown; the job queue is unavailable" in err
