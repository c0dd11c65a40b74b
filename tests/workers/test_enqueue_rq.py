"""Submission through RQ on a real Redis, run by a real SimpleWorker in burst mode."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.bot.slack_stub import SlackStub
from tests.workers.conftest import CHANNEL, THREAD_ID, THREAD_TS
from tests.workers.jobs_for_tests import attempts
from workers import records
from workers.enqueue import JobKind, QueueUnavailableError, enqueue, job_id_for
from workers.queues import RetryPolicy
from workers.settings import WorkerSettings

pytestmark = pytest.mark.redis
JOBS = "tests.workers.jobs_for_tests"


def work(conn: Any, *names: str) -> None:
    """One burst of a plain RQ SimpleWorker (with its scheduler) on the queues."""
    from rq import Queue, SimpleWorker

    queues = [Queue(n, connection=conn) for n in names or ("interactive",)]
    SimpleWorker(queues, connection=conn).work(burst=True, with_scheduler=True, logging_level="WARNING")


def status(conn: Any, job_id: str) -> str:
    from rq.job import Job

    return str(Job.fetch(job_id, connection=conn).get_status().value)


def record(settings: WorkerSettings, job_id: str) -> dict[str, Any]:
    row = records.get(settings.database_url, job_id)
    assert row is not None, f"no record of {job_id}"
    return row


def test_same_request_twice_runs_once(settings: WorkerSettings, redis_conn: Any, tally: str) -> None:
    job_id = job_id_for(JobKind.PLAN, THREAD_ID, "v1")
    first = enqueue(
        JobKind.PLAN, f"{JOBS}.double", tally, 21, job_id=job_id, settings=settings, thread_id=THREAD_ID
    )
    again = enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 21, job_id=job_id, settings=settings)
    assert (first.created, again.created) == (True, False)
    assert job_id == "plan-T1_C1_111_222-v1"
    work(redis_conn)
    after = enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 21, job_id=job_id, settings=settings)
    work(redis_conn)

    assert after.created is False  # a Slack retry after the job finished does not run it again
    assert attempts(tally) == 1
    assert status(redis_conn, job_id) == "finished"
    row = record(settings, job_id)
    assert (row["status"], row["result_ref"], row["kind"]) == ("finished", "42", "plan")
    assert row["thread_id"] == THREAD_ID


def test_job_gets_its_kind_queue_timeout_and_retries(settings: WorkerSettings, redis_conn: Any) -> None:
    from rq.job import Job

    enqueue(JobKind.DEPLOY, f"{JOBS}.double", "/dev/null", 1, job_id="deploy-7-1", settings=settings)
    job = Job.fetch("deploy-7-1", connection=redis_conn)
    assert (job.origin, job.timeout, job.retries_left, job.retry_intervals) == (
        "deploy",
        3600,
        3,
        [10, 60, 300],
    )
    assert job.meta == {"kind": "deploy", "thread_id": None, "retries": 3}


def test_transient_failure_is_retried_after_the_backoff(
    settings: WorkerSettings, redis_conn: Any, stub: SlackStub, tally: str
) -> None:
    job_id = "plan-flaky"
    policy = RetryPolicy(2, (1,))
    enqueue(JobKind.PLAN, f"{JOBS}.flaky", tally, 1, job_id=job_id, settings=settings, retry=policy)
    work(redis_conn)
    assert attempts(tally) == 1
    assert status(redis_conn, job_id) == "scheduled"  # waiting for its backoff, not failed
    assert record(settings, job_id)["status"] == "retrying"
    assert "retrying in 1 s" in record(settings, job_id)["error"]

    time.sleep(1.1)
    work(redis_conn)
    assert attempts(tally) == 2
    assert status(redis_conn, job_id) == "finished"
    assert record(settings, job_id)["status"] == "finished"
    assert stub.of("chat.postMessage") == []  # the thread hears nothing about a failure that passed


def test_bad_input_is_not_retried_and_the_thread_is_told(
    settings: WorkerSettings, redis_conn: Any, stub: SlackStub, tally: str
) -> None:
    job_id = job_id_for(JobKind.PLAN, THREAD_ID, "v2")
    enqueue(JobKind.PLAN, f"{JOBS}.bad_input", tally, job_id=job_id, settings=settings, thread_id=THREAD_ID)
    work(redis_conn)

    assert attempts(tally) == 1  # the policy allows 2 retries, but bad input would fail again
    assert status(redis_conn, job_id) == "failed"
    row = record(settings, job_id)
    assert row["status"] == "failed"
    assert row["error"].startswith("I could not plan this spec: unknown model 'llama-9'")
    [post] = stub.of("chat.postMessage")
    assert (post.params["channel"], post.params["thread_ts"]) == (CHANNEL, THREAD_TS)
    assert row["error"] in post.params["text"] and job_id in post.params["text"]


def test_final_failure_is_posted_once_after_the_last_retry(
    settings: WorkerSettings, redis_conn: Any, stub: SlackStub, tally: str
) -> None:
    job_id = "whatif-T1_C1_111_222-5-9"
    policy = RetryPolicy(1, (0,))
    enqueue(
        JobKind.WHATIF,
        f"{JOBS}.flaky",
        tally,
        9,
        job_id=job_id,
        settings=settings,
        retry=policy,
        thread_id=THREAD_ID,
    )
    work(redis_conn)

    assert attempts(tally) == 2
    assert status(redis_conn, job_id) == "failed"
    [post] = stub.of("chat.postMessage")
    assert "I could not compare that scenario: connection dropped or timed out" in post.params["text"]
    assert "still failing after 2 attempts" in post.params["text"]
    assert record(settings, job_id)["status"] == "failed"


def test_a_failed_job_can_be_submitted_again(settings: WorkerSettings, redis_conn: Any, tally: str) -> None:
    job_id = "plan-again"
    enqueue(JobKind.PLAN, f"{JOBS}.bad_input", tally, job_id=job_id, settings=settings)
    work(redis_conn)
    assert status(redis_conn, job_id) == "failed"

    ref = enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 2, job_id=job_id, settings=settings)
    assert ref.created is True  # the user pressed Retry: same id, new run
    assert record(settings, job_id)["status"] == "queued"
    work(redis_conn)
    assert status(redis_conn, job_id) == "finished"


@pytest.fixture
def rate_limited_api() -> Iterator[tuple[str, list[float]]]:
    """A Slack Web API that answers 429 with Retry-After: 1 once, then ok; records request times."""
    seen: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(time.monotonic())
            first = len(seen) == 1
            body = (
                {"ok": False, "error": "ratelimited"} if first else {"ok": True, "ts": "1.2", "channel": "C1"}
            )
            data = json.dumps(body).encode()
            self.send_response(429 if first else 200)
            if first:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/", seen
    server.shutdown()
    server.server_close()


def test_slack_429_waits_for_retry_after(
    settings: WorkerSettings, redis_conn: Any, tally: str, rate_limited_api: tuple[str, list[float]]
) -> None:
    from rq import Queue

    url, seen = rate_limited_api
    policy = RetryPolicy(2, (0,))  # no backoff of its own: the wait comes from Retry-After alone
    enqueue(
        JobKind.PLAN, f"{JOBS}.post_hello", tally, url, job_id="plan-429", settings=settings, retry=policy
    )
    before = time.time()
    work(redis_conn)
    assert status(redis_conn, "plan-429") == "scheduled"
    registry = Queue("interactive", connection=redis_conn).scheduled_job_registry
    assert registry.get_scheduled_time("plan-429").timestamp() >= before + 1 - 0.01

    work(redis_conn)
    assert len(seen) == 1  # not before Retry-After
    time.sleep(max(0.0, registry.get_scheduled_time("plan-429").timestamp() - time.time()) + 0.05)
    work(redis_conn)
    assert status(redis_conn, "plan-429") == "finished"
    assert len(seen) == 2 and seen[1] - seen[0] >= 1.0


def test_redis_down_raises_queue_unavailable_and_records_it(base_env: str, tally: str) -> None:
    from workers.settings import load_settings

    settings = load_settings({"REDIS_URL": "redis://:hunter2@127.0.0.1:1/0", "DATABASE_URL": base_env})
    with pytest.raises(QueueUnavailableError) as caught:
        enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 1, job_id="plan-down", settings=settings)
    message = str(caught.value)
    assert "job queue (Redis at redis://:***@127.0.0.1:1/0) is unavailable" in message
    assert "request is kept; try again in a minute" in message and "hunter2" not in message
    row = records.get(base_env, "plan-down")
    assert row is not None and row["status"] == "not_queued" and row["error"] == message
    assert attempts(tally) == 0
