"""`predeploy worker | jobs`: run a job worker on Redis, and list recent jobs."""

from __future__ import annotations

from typing import Any

import typer

from bot.cli.common import EXIT_ENVIRONMENT, fail, open_session, print_json

DEFAULT_QUEUES = "interactive,deploy,scheduled"


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.command("jobs")(jobs_command)


def worker_command(
    queues: str = typer.Option(
        DEFAULT_QUEUES, "--queues", "-q", help="Comma-separated queues to work on, highest priority first."
    ),
    burst: bool = typer.Option(False, "--burst", help="Work until the queues are empty, then exit."),
    cron: bool = typer.Option(True, "--cron/--no-cron", help="Also run the periodic jobs' cron scheduler."),
    simple: bool = typer.Option(False, "--no-fork", help="Run jobs in the worker process (no fork)."),
) -> None:
    """Run an RQ worker (with its scheduler) on REDIS_URL; jobs write to DATABASE_URL and post to Slack."""
    from workers.queues import QueueUnavailableError, parse_queue_names
    from workers.runner import run_worker
    from workers.settings import load_settings

    try:
        names = parse_queue_names(queues)
    except ValueError as exc:
        fail(str(exc))
    settings = load_settings()
    if settings.is_inline:
        fail(
            "REDIS_URL is not set: without Redis, jobs run inline in the bot or CLI that asks for them and "
            "no worker is needed. Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run workers.",
            EXIT_ENVIRONMENT,
        )
    _log_to_stderr()
    try:
        run_worker(settings, queue_names=names, burst=burst, with_cron=cron, simple=simple)
    except QueueUnavailableError as exc:
        fail(str(exc), EXIT_ENVIRONMENT)


def _log_to_stderr() -> None:
    """Our job-system messages (retries, failures, recoveries) next to RQ's own log lines."""
    import logging
    import sys

    class Stderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sys.stderr.write(self.format(record) + "\n")  # today's stderr, not the one at start-up

    logger = logging.getLogger("workers")
    if not any(type(h).__name__ == "Stderr" for h in logger.handlers):
        handler = Stderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def jobs_command(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="How many jobs to list."),
    json_out: bool = typer.Option(False, "--json", help="Print the jobs as JSON."),
) -> None:
    """List recent jobs (newest first) with their state, thread and error, from the knowledge base."""
    from kb import threads as kb_threads

    with open_session() as session:
        rows = kb_threads.list_jobs(session=session, limit=limit)
    queue_note = _add_live_status(rows)
    if json_out:
        print_json(rows)
        return
    if not rows:
        typer.echo("no jobs recorded yet")
        return
    for line in _table(rows):
        typer.echo(line)
    if queue_note:
        typer.echo(queue_note, err=True)


def _add_live_status(rows: list[dict[str, Any]]) -> str | None:
    """Add each job's state in Redis ("live", None when unknown); returns a note when Redis is down."""
    from workers.queues import QueueUnavailableError, connect
    from workers.settings import load_settings

    for row in rows:
        row["live"] = None
    settings = load_settings()
    if settings.is_inline or not rows:
        return None
    import redis
    from rq.job import Job

    try:
        connection = connect(settings)
        jobs = Job.fetch_many([r["id"] for r in rows], connection=connection)
    except (QueueUnavailableError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        return f"note: live states not shown; the job queue is unavailable ({exc})"
    for row, job in zip(rows, jobs, strict=True):
        status = job.get_status(refresh=False) if job is not None else None
        row["live"] = getattr(status, "value", status) if status is not None else "gone"
    return None


def _table(rows: list[dict[str, Any]]) -> list[str]:
    header = ("JOB", "KIND", "STATUS", "LIVE", "THREAD", "UPDATED", "ERROR")
    lines = [header]
    for r in rows:
        error = (r.get("error") or "").replace("\n", " ")
        lines.append(
            (
                r["id"],
                r["kind"],
                r["status"],
                r.get("live") or "-",
                r.get("thread_id") or "-",
                f"{r['updated_at']:%Y-%m-%d %H:%M:%S}" if r.get("updated_at") else "-",
                error if len(error) <= 80 else error[:77] + "...",
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header) - 1)]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)) + f"  {line[-1]}"
        for line in lines
    ]
