"""Periodic jobs, configured in one place and run by RQ's cron scheduler (`rq.cron.CronScheduler`).

The cron scheduler enqueues a tiny `launch(name)` job; `launch` submits the real job through
`workers.enqueue` with an id made of the schedule's name and its time slot. So a periodic job
gets the same records, retries and failure handling as any other job, and when several workers
each run a scheduler (RQ 2.12 has no scheduler lock) the slot still runs once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.queues import QUEUE_OF, JobKind

if TYPE_CHECKING:
    from redis import Redis
    from rq.cron import CronScheduler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A job run on a schedule: a cron expression (UTC) or a fixed interval, not both."""

    name: str  # [a-z0-9-]; names the cron job and starts the job ids
    kind: JobKind
    func: str  # dotted path, called without arguments
    cron: str | None = None
    interval_s: int | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError(f"schedule {self.name!r}: give exactly one of cron= and interval_s=")
        if self.interval_s is not None and self.interval_s < 1:
            raise ValueError(f"schedule {self.name!r}: interval_s must be >= 1, not {self.interval_s}")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"schedule {self.name!r}: {self.cron!r} is not a cron expression")


# The schedule (cron in UTC). Observations store one hourly window per deployed thread (windows do
# not overlap, so each request counts once toward the corrections); digests post a day's figures.
# Both do nothing without PROMETHEUS_URL.
SCHEDULES: tuple[Periodic, ...] = (
    Periodic("cleanup", JobKind.CLEANUP, "workers.maintenance.cleanup", cron="*/15 * * * *"),
    Periodic("outcome-observe", JobKind.DIGEST, "workers.observe.observe_all_deployments", cron="0 * * * *"),
    Periodic("outcome-digest", JobKind.DIGEST, "workers.observe.post_all_digests", cron="0 9 * * 1-5"),
)


def periodic_named(name: str, schedules: tuple[Periodic, ...] = SCHEDULES) -> Periodic:
    """The schedule entry called `name`.

    Raises:
        KeyError: no such entry; the message lists the known names.
    """
    for periodic in schedules:
        if periodic.name == name:
            return periodic
    raise KeyError(f"no schedule named {name!r}; known: {', '.join(p.name for p in schedules)}")


def slot_of(periodic: Periodic, now: dt.datetime) -> str:
    """The time slot `now` falls in (the latest cron fire time, or the interval's start), as text."""
    if periodic.cron is not None:
        from croniter import croniter

        start: dt.datetime = croniter(periodic.cron, now).get_prev(dt.datetime)
    else:
        step = periodic.interval_s or 1
        start = dt.datetime.fromtimestamp(now.timestamp() // step * step, tz=dt.UTC)
    return start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S")


def launch(name: str) -> str | None:
    """Submit the periodic job `name` for the current slot; its job id, or None when it ran already."""
    from workers.enqueue import enqueue, job_id_for
    from workers.settings import load_settings

    periodic = periodic_named(name)
    slot = slot_of(periodic, dt.datetime.now(dt.UTC))
    job_id = job_id_for(periodic.kind, periodic.name, slot)
    ref = enqueue(periodic.kind, periodic.func, job_id=job_id, settings=load_settings())
    return ref.job_id if ref.created else None


def build_cron(
    connection: Redis, schedules: tuple[Periodic, ...] = SCHEDULES, *, name: str = ""
) -> CronScheduler:
    """A cron scheduler with every schedule registered (not started)."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection, name=name)
    for periodic in schedules:
        scheduler.register(
            launch,
            queue_name=QUEUE_OF[periodic.kind],
            args=(periodic.name,),
            cron=periodic.cron,
            interval=periodic.interval_s,
            job_timeout=60,
            result_ttl=3600,
            name=f"predeploy-{periodic.name}",
        )
    return scheduler
