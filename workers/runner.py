"""Running a worker: RQ's worker on our queues, its scheduler (retries with backoff), and the cron loop.

`predeploy worker` calls `run_worker`. Before working it hands jobs left behind by dead workers
to RQ's abandoned-job handling, so a restart after `kill -9` retries or fails them at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.failure import on_horse_killed
from workers.maintenance import recover_abandoned
from workers.queues import QUEUE_NAMES, connect
from workers.schedule import SCHEDULES, Periodic, build_cron
from workers.settings import WorkerSettings

if TYPE_CHECKING:
    from redis import Redis
    from rq.cron import CronScheduler
    from rq.worker import BaseWorker

logger = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 60  # RQ's registry cleanup (abandoned jobs by heartbeat); RQ's default is 600


def build_worker(
    connection: Redis, queue_names: Sequence[str] = QUEUE_NAMES, *, simple: bool = False
) -> BaseWorker:
    """An RQ worker on the queues, in priority order; `simple` runs jobs in-process (no fork)."""
    from rq import Queue, SimpleWorker, Worker

    queues = [Queue(name, connection=connection) for name in queue_names]
    worker_class = SimpleWorker if simple else Worker
    return worker_class(
        queues,
        connection=connection,
        work_horse_killed_handler=on_horse_killed,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
    )


class CronLoop:
    """RQ's cron scheduler on a daemon thread (its own `start()` wants the main thread for signals)."""

    def __init__(self, scheduler: CronScheduler) -> None:
        self.scheduler = scheduler
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Enqueue the jobs that are due now; returns how many."""
        due = self.scheduler.enqueue_jobs()
        if due:
            self.scheduler.save()
        return len(due)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="predeploy-cron", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        import redis

        self.scheduler.register_birth()
        try:
            while not self._stop.is_set():
                try:
                    self.run_once()
                    self.scheduler.heartbeat()
                    wait_s = self.scheduler.calculate_sleep_interval()
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    logger.exception("cron scheduler: Redis unavailable; trying again in 5 s")
                    wait_s = 5.0
                self._stop.wait(max(wait_s, 0.2))
        finally:
            try:
                self.scheduler.register_death()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                logger.exception("cron scheduler: could not unregister")


def run_worker(
    settings: WorkerSettings,
    *,
    queue_names: Sequence[str] = QUEUE_NAMES,
    burst: bool = False,
    with_cron: bool = True,
    simple: bool = False,
    schedules: tuple[Periodic, ...] = SCHEDULES,
    logging_level: str = "INFO",
) -> bool:
    """Recover jobs of dead workers, start the cron loop, then work until stopped (or empty, in burst).

    Returns whether any job was processed.

    Raises:
        QueueUnavailableError: no REDIS_URL, or Redis does not answer.
    """
    connection = connect(settings, check=True)
    recovered = recover_abandoned(connection, tuple(queue_names))
    if recovered:
        logger.warning("recovered %d job(s) of dead workers: %s", len(recovered), ", ".join(recovered))
    worker = build_worker(connection, queue_names, simple=simple)
    cron = CronLoop(build_cron(connection, schedules)) if with_cron and schedules else None
    if cron is not None and burst:
        cron.run_once()
    elif cron is not None:
        cron.start()
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level=logging_level)
    finally:
        if cron is not None:
            cron.stop()
