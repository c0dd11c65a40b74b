"""Without REDIS_URL jobs run in-process through the same failure handling, with the same results."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.bot.slack_stub import SlackStub
from tests.workers.conftest import CHANNEL, THREAD_ID, THREAD_TS
from tests.workers.jobs_for_tests import attempts
from workers import records
from workers.enqueue import JobKind, enqueue, job_id_for
from workers.queues import RetryPolicy
from workers.settings import WorkerSettings

JOBS = "tests.workers.jobs_for_tests"
NO_WAIT = RetryPolicy(1, (0,))


def record(settings: WorkerSettings, job_id: str) -> dict[str, Any]:
    row = records.get(settings.database_url, job_id)
    assert row is not None
    return row


def test_inline_job_runs_once_and_is_recorded(inline_settings: WorkerSettings, tally: str) -> None:
    job_id = job_id_for(JobKind.PLAN, THREAD_ID, "v1")
    first = enqueue(
        JobKind.PLAN,
        f"{JOBS}.double",
        tally,
        21,
        job_id=job_id,
        settings=inline_settings,
        thread_id=THREAD_ID,
    )
    again = enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 21, job_id=job_id, settings=inline_settings)
    assert (first.inline, first.created, again.created) == (True, True, False)
    assert attempts(tally) == 1
    row = record(inline_settings, job_id)
    assert (row["status"], row["result_ref"], row["thread_id"]) == ("finished", "42", THREAD_ID)


def test_inline_transient_failure_is_retried(
    inline_settings: WorkerSettings, stub: SlackStub, tally: str
) -> None:
    enqueue(JobKind.PLAN, f"{JOBS}.flaky", tally, 1, job_id="plan-f", settings=inline_settings, retry=NO_WAIT)
    assert attempts(tally) == 2
    assert record(inline_settings, "plan-f")["status"] == "finished"
    assert stub.of("chat.postMessage") == []


def test_inline_bad_input_fails_once_like_a_worker(
    inline_settings: WorkerSettings, stub: SlackStub, tally: str
) -> None:
    job_id = job_id_for(JobKind.PLAN, THREAD_ID, "v2")
    with pytest.raises(Exception, match="unknown model 'llama-9'"):  # the CLI sees the error itself
        enqueue(
            JobKind.PLAN,
            f"{JOBS}.bad_input",
            tally,
            job_id=job_id,
            settings=inline_settings,
            thread_id=THREAD_ID,
        )
    assert attempts(tally) == 1
    row = record(inline_settings, job_id)
    assert row["status"] == "failed"
    assert row["error"].startswith("I could not plan this spec: unknown model 'llama-9'")
    [post] = stub.of("chat.postMessage")
    assert (post.params["channel"], post.params["thread_ts"]) == (CHANNEL, THREAD_TS)
    assert row["error"] in post.params["text"]

    # Failed for good: the same request may run again (the user's Retry).
    ref = enqueue(JobKind.PLAN, f"{JOBS}.double", tally, 1, job_id=job_id, settings=inline_settings)
    assert ref.created is True and record(inline_settings, job_id)["status"] == "finished"


def test_inline_in_thread_reports_failure_without_raising(base_env: str, stub: SlackStub, tally: str) -> None:
    from workers.settings import load_settings

    settings = load_settings()  # the bot's: inline on a background thread
    enqueue(JobKind.WHATIF, f"{JOBS}.buggy", tally, job_id="whatif-b", settings=settings, thread_id=THREAD_ID)
    [post] = stub.wait_for("chat.postMessage")
    assert (
        "I could not compare that scenario: of an error on my side (KeyError: 'options')"
        in post.params["text"]
    )
    for t in threading.enumerate():
        if t.name == "job-whatif-b":
            t.join(5)
    assert record(settings, "whatif-b")["status"] == "failed"


@pytest.mark.redis
def test_inline_and_rq_give_the_same_records_and_messages(
    inline_settings: WorkerSettings, settings: WorkerSettings, redis_conn: Any, stub: SlackStub, tmp_path: Any
) -> None:
    from rq import Queue, SimpleWorker

    outcomes = []
    for mode, s in (("inline", inline_settings), ("rq", settings)):
        tally = str(tmp_path / f"{mode}.txt")
        for func, job in (("bad_input", f"plan-bad-{mode}"), ("flaky", f"plan-flaky-{mode}")):
            args = (tally,) if func == "bad_input" else (tally, 1)
            try:
                enqueue(
                    JobKind.PLAN,
                    f"{JOBS}.{func}",
                    *args,
                    job_id=job,
                    settings=s,
                    retry=NO_WAIT,
                    thread_id=THREAD_ID,
                )
            except Exception:
                assert mode == "inline"
        if mode == "rq":
            SimpleWorker([Queue("interactive", connection=redis_conn)], connection=redis_conn).work(
                burst=True, with_scheduler=True, logging_level="WARNING"
            )
        rows = [record(s, f"plan-{name}-{mode}") for name in ("bad", "flaky")]
        outcomes.append(([(r["status"], r["error"], r["result_ref"]) for r in rows], attempts(tally)))
    assert outcomes[0] == outcomes[1]
    texts = [
        c.params["text"].replace("inline", "MODE").replace("-rq", "-MODE")
        for c in stub.of("chat.postMessage")
    ]
    assert len(texts) == 2 and texts[0] == texts[1]


def test_a_deploy_job_reports_to_the_thread_of_its_plan(
    inline_settings: WorkerSettings, stub: SlackStub, tally: str
) -> None:
    from kb import threads as kb_threads

    with records.sessions_for(inline_settings.database_url)() as session, session.begin():
        plan_id = kb_threads.save_plan(session=session, thread_id=THREAD_ID, spec_version=1, result={})
    with pytest.raises(KeyError):
        enqueue(
            JobKind.DEPLOY,
            f"{JOBS}.buggy_plan",
            plan_id,
            tally,
            job_id=f"deploy-{plan_id}-1",
            settings=inline_settings,
        )
    [post] = stub.of("chat.postMessage")
    assert (post.params["channel"], post.params["thread_ts"]) == (CHANNEL, THREAD_TS)
    assert post.params["text"].startswith("I could not deploy the approved option: of an error on my side")
    assert record(inline_settings, f"deploy-{plan_id}-1")["thread_id"] == THREAD_ID
