"""The schedule (one table), time slots, and RQ's cron scheduler enqueuing periodic jobs once per slot."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from workers import records
from workers.queues import JobKind
from workers.schedule import SCHEDULES, Periodic, build_cron, launch, periodic_named, slot_of
from workers.settings import WorkerSettings

AT = dt.datetime(2026, 11, 28, 10, 7, 30, tzinfo=dt.UTC)


def test_schedule_entries_are_valid_and_named_uniquely() -> None:
    names = [p.name for p in SCHEDULES]
    assert len(names) == len(set(names)) and "cleanup" in names
    assert periodic_named("cleanup").func == "workers.maintenance.cleanup"
    with pytest.raises(KeyError, match="no schedule named 'nope'; known: cleanup"):
        periodic_named("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of cron= and interval_s="),
        ({"cron": "* * * * *", "interval_s": 60}, "give exactly one"),
        ({"cron": "every day"}, "'every day' is not a cron expression"),
        ({"interval_s": 0}, "interval_s must be >= 1"),
    ],
)
def test_bad_schedule_entries_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Periodic("x", JobKind.CLEANUP, "workers.maintenance.cleanup", **kwargs)


def test_slots() -> None:
    every_15 = Periodic("c", JobKind.CLEANUP, "f.g", cron="*/15 * * * *")
    every_min = Periodic("i", JobKind.CLEANUP, "f.g", interval_s=60)
    assert slot_of(every_15, AT) == "20261128T100000"
    assert slot_of(every_15, AT + dt.timedelta(minutes=8)) == "20261128T101500"
    assert slot_of(every_min, AT) == "20261128T100700"


def test_cron_scheduler_gets_every_schedule() -> None:
    import redis

    scheduler = build_cron(redis.Redis())  # no command is sent until it runs
    jobs = {job.name: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"predeploy-cleanup", "predeploy-outcome-observe", "predeploy-outcome-digest"}
    cleanup = jobs["predeploy-cleanup"]
    assert (cleanup.queue_name, cleanup.cron, cleanup.args) == ("scheduled", "*/15 * * * *", ("cleanup",))
    assert jobs["predeploy-outcome-observe"].cron == "0 * * * *"
    assert all(job.func_name == "workers.schedule.launch" for job in jobs.values())


@pytest.mark.redis
def test_cron_enqueues_the_launcher_which_runs_the_job_once_per_slot(
    settings: WorkerSettings, redis_conn: Any
) -> None:
    from rq import Queue, SimpleWorker

    from workers.runner import CronLoop

    every_minute = (Periodic("cleanup", JobKind.CLEANUP, "workers.maintenance.cleanup", interval_s=60),)
    loop = CronLoop(build_cron(redis_conn, every_minute))
    assert loop.run_once() == 1  # interval jobs are due at start
    assert loop.run_once() == 0
    queue = Queue("scheduled", connection=redis_conn)
    assert queue.count == 1
    SimpleWorker([queue], connection=redis_conn).work(burst=True, logging_level="WARNING")

    [row] = records.recent(settings.database_url)
    slot = slot_of(periodic_named("cleanup"), dt.datetime.now(dt.UTC))
    assert row["id"] == f"cleanup-cleanup-{slot}"
    assert (row["kind"], row["status"]) == ("cleanup", "finished")
    assert "'stuck': 0" in row["result_ref"]
    assert launch("cleanup") is None  # a second scheduler in the same slot: nothing runs twice


@pytest.mark.redis
def test_cron_loop_runs_on_its_thread_and_registers_itself(settings: WorkerSettings, redis_conn: Any) -> None:
    import time

    from rq import Queue
    from rq.cron import CronScheduler

    from workers.runner import CronLoop

    every_minute = (Periodic("cleanup", JobKind.CLEANUP, "workers.maintenance.cleanup", interval_s=60),)
    loop = CronLoop(build_cron(redis_conn, every_minute, name="test-cron"))
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while Queue("scheduled", connection=redis_conn).count == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert Queue("scheduled", connection=redis_conn).count == 1
        assert [s.name for s in CronScheduler.all(redis_conn)] == ["test-cron"]
    finally:
        loop.stop()
    assert CronScheduler.all(redis_conn) == []  # unregistered on stop
