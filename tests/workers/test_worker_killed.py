"""A worker killed with SIGKILL in the middle of a job: the job is retried or failed with a message.

These start a real `predeploy worker` subprocess (forking RQ worker), wait until the job is running,
then kill -9 either the whole worker (its process group, like a pod eviction) or only the process
running the job (like the out-of-memory killer).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.slack_stub import SlackStub
from tests.workers.conftest import THREAD_ID
from tests.workers.jobs_for_tests import attempts
from workers import records
from workers.enqueue import JobKind, enqueue
from workers.queues import RetryPolicy
from workers.settings import WorkerSettings

pytestmark = [pytest.mark.redis, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
JOB = "tests.workers.jobs_for_tests.sleepy"


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def worker_process(
    settings: WorkerSettings, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `predeploy worker --queues interactive --no-cron`; its log goes to tmp_path/worker.log."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = ["worker", "--queues", "interactive", "--no-cron"]
        with open(tmp_path / "worker.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", *args],
                cwd=ROOT,
                env=env,
                start_new_session=True,  # its own process group: the worker, its job process, its scheduler
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def status(conn: Any, job_id: str) -> str:
    from rq.job import Job

    return str(Job.fetch(job_id, connection=conn).get_status().value)


@pytest.mark.parametrize("retries", [1, 0])
def test_worker_killed_mid_job_then_restarted(
    settings: WorkerSettings,
    redis_conn: Any,
    stub: SlackStub,
    worker_process: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
    retries: int,
) -> None:
    from workers.runner import run_worker

    tally, marker = str(tmp_path / "tally"), tmp_path / "marker"
    job_id = f"plan-killed-{retries}"
    policy = RetryPolicy(retries, (0,))
    enqueue(
        JobKind.PLAN,
        JOB,
        tally,
        str(marker),
        60,
        job_id=job_id,
        settings=settings,
        retry=policy,
        thread_id=THREAD_ID,
    )
    proc = worker_process()
    wait_until(marker.exists, 30, "the job to start in the worker subprocess")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert status(redis_conn, job_id) == "started"  # kept in RQ's StartedJobRegistry, not lost

    # A worker starting on this host finds the job of the dead worker at once.
    run_worker(
        settings,
        queue_names=["interactive"],
        burst=True,
        with_cron=False,
        simple=True,
        logging_level="WARNING",
    )

    row = records.get(settings.database_url, job_id)
    assert row is not None
    if retries:
        assert status(redis_conn, job_id) == "finished"
        assert attempts(tally) == 2 and row["status"] == "finished"
        assert stub.of("chat.postMessage") == []
    else:
        assert status(redis_conn, job_id) == "failed"
        assert attempts(tally) == 1 and row["status"] == "failed"
        assert row["error"].startswith("I could not plan this spec: the worker running the job died")
        [post] = stub.of("chat.postMessage")
        assert row["error"] in post.params["text"]


def test_job_process_killed_is_retried_by_the_same_worker(
    settings: WorkerSettings,
    redis_conn: Any,
    stub: SlackStub,
    worker_process: Callable[[], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    tally, marker = str(tmp_path / "tally"), tmp_path / "marker"
    policy = RetryPolicy(1, (0,))
    enqueue(JobKind.PLAN, JOB, tally, str(marker), 60, job_id="plan-oom", settings=settings, retry=policy)
    proc = worker_process()
    horse_pid = int(wait_until(lambda: marker.exists() and marker.read_text(), 30, "the job to start"))
    assert horse_pid != proc.pid
    os.kill(horse_pid, signal.SIGKILL)

    wait_until(lambda: status(redis_conn, "plan-oom") == "finished", 20, "the retried job to finish")
    assert attempts(tally) == 2
    row = records.get(settings.database_url, "plan-oom")
    assert row is not None and row["status"] == "finished"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(15)
