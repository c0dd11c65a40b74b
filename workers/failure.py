"""What happens when a job fails: retry transient failures, store final ones and tell the thread.

`report()` is the one decision, shared by RQ and inline runs. Its RQ adapters are callbacks set on
every job at enqueue time (`on_failure`, `on_success`) plus the worker's `work_horse_killed_handler`,
so they also run under a plain `rq worker` and for jobs RQ finds abandoned.

rq calls `on_failure` after every failed attempt, before it decides on a retry, with the same `Job`
object it then reads `retries_left` from: setting it to 0 here is how bad input is never retried,
and stretching `retry_intervals` is how a Slack Retry-After is honoured.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from workers import records
from workers.queues import JobKind
from workers.records import JobStatus
from workers.retry import FINAL_USER_ERRORS, Transience, WorkerKilledError, classify, wait_s
from workers.settings import WorkerSettings, load_settings

if TYPE_CHECKING:
    from redis import Redis
    from rq.job import Job

logger = logging.getLogger(__name__)

WHAT: dict[JobKind, str] = {
    JobKind.PLAN: "plan this spec",
    JobKind.WHATIF: "compare that scenario",
    JobKind.DEPLOY: "deploy the approved option",
    JobKind.DIGEST: "send the outcome digest",
    JobKind.CLEANUP: "clean up stale threads",
}
NEXT_STEP: dict[JobKind, str] = {
    JobKind.PLAN: "Your spec is kept: press Retry or ask me to plan again.",
    JobKind.WHATIF: "Ask for the comparison again in this thread.",
    JobKind.DEPLOY: "Nothing more will be applied automatically: check what is running in the cluster "
    "(kubectl get inferenceservice), then choose the option and have an admin approve it again to retry.",
    JobKind.DIGEST: "The next digest runs on schedule.",
    JobKind.CLEANUP: "It runs again on schedule.",
}
# Jobs whose failure message gets a Retry button, and the button's value (see bot.ids.RETRY).
RETRY_BUTTON: dict[str, Any] = {"workers.jobs.plan_thread": lambda args: f"{args[0]}|{args[1]}"}


@dataclass(frozen=True)
class Attempt:
    """One failed attempt of a job."""

    job_id: str
    kind: JobKind
    func: str  # dotted path of the job function
    args: tuple[Any, ...]
    thread_id: str | None
    number: int  # 1 for the first attempt
    timeout_s: int | None = None


def failure_text(attempt: Attempt, exc: BaseException, verdict: Transience) -> str:
    """What failed and what to do, for the thread."""
    if _is_timeout(exc):
        why = f"it ran longer than its limit of {attempt.timeout_s} s"
    elif verdict.transient:
        why = f"{verdict.reason} ({_short(exc)})"
        why += f", still failing after {attempt.number} attempts" if attempt.number > 1 else ""
    elif isinstance(exc, FINAL_USER_ERRORS):
        why = _short(exc)
    else:
        why = f"of an error on my side ({type(exc).__name__}: {_short(exc)})"
    return f"I could not {WHAT[attempt.kind]}: {why}. {NEXT_STEP[attempt.kind]}"


def _is_timeout(exc: BaseException) -> bool:
    from rq.timeouts import JobTimeoutException

    return isinstance(exc, JobTimeoutException)


def _short(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."


def report(
    attempt: Attempt,
    exc: BaseException,
    verdict: Transience,
    *,
    retry_in_s: float | None,
    settings: WorkerSettings,
) -> None:
    """Record a failed attempt; when it is final, also post what failed and what to do to the thread."""
    if retry_in_s is not None:
        note = (
            f"attempt {attempt.number} failed ({verdict.reason}: {_short(exc)}); retrying in {retry_in_s:g} s"
        )
        logger.warning("job %s: %s", attempt.job_id, note)
        records.mark(settings.database_url, attempt.job_id, JobStatus.RETRYING, kind=attempt.kind, error=note)
        return
    text = failure_text(attempt, exc, verdict)
    logger.error("job %s failed for good: %s", attempt.job_id, text)  # the runner logs the traceback
    records.mark(
        settings.database_url,
        attempt.job_id,
        JobStatus.FAILED,
        kind=attempt.kind,
        thread_id=attempt.thread_id,
        error=text,
    )
    button = RETRY_BUTTON.get(attempt.func)
    retry_value = button(attempt.args) if button is not None and len(attempt.args) >= 2 else None
    post_to_thread(settings, attempt.thread_id, text, ref=attempt.job_id, retry_value=retry_value)


def post_to_thread(
    settings: WorkerSettings, thread_id: str | None, text: str, *, ref: str, retry_value: str | None = None
) -> bool:
    """Post an error message into a Slack thread; False when there is no Slack thread to post to."""
    from slack_sdk.errors import SlackApiError

    from bot import blocks
    from workers.notify import SlackNotConfiguredError, ThreadPoster, slack_client

    where = slack_thread(settings, thread_id)
    if where is None:
        return False
    try:
        poster = ThreadPoster(slack_client(settings), *where)
        poster.post(blocks.error_message(text, ref=ref, retry_value=retry_value))
    except SlackNotConfiguredError:
        logger.warning("job %s failed; no Slack token, so thread %s was not told", ref, thread_id)
        return False
    except (SlackApiError, OSError):
        logger.exception("could not tell thread %s that job %s failed", thread_id, ref)
        return False
    return True


def slack_thread(settings: WorkerSettings, thread_id: str | None) -> tuple[str, str] | None:
    """(channel, thread_ts) of a Slack thread id "team:channel:ts"; None for CLI threads or none."""
    if not thread_id or thread_id.startswith("cli:"):
        return None
    parts = thread_id.split(":")
    if len(parts) == 3 and all(parts):
        return parts[1], parts[2]
    try:
        from kb import threads as kb_threads

        with records.sessions_for(settings.database_url)() as session:
            state = kb_threads.get_thread(session=session, thread_id=thread_id)
    except Exception:
        logger.exception("cannot look up thread %s", thread_id)
        return None
    return (state.channel_id, state.thread_ts) if state is not None else None


# --- RQ adapters -------------------------------------------------------------------------------


def attempt_of(job: Job) -> Attempt:
    meta = job.meta or {}
    retries = int(meta.get("retries", 0))
    left = int(job.retries_left or 0)
    return Attempt(
        job_id=job.id,
        kind=JobKind(meta.get("kind", JobKind.PLAN)),
        func=str(job.func_name),
        args=tuple(job.args or ()),
        thread_id=meta.get("thread_id"),
        number=max(1, retries - left + 1),
        timeout_s=int(job.timeout) if job.timeout else None,
    )


def decide_rq(job: Job, exc: BaseException) -> None:
    """Make rq retry only transient failures, after at least Retry-After; then record/report."""
    attempt = attempt_of(job)
    verdict = classify(exc)
    if not verdict.transient:
        job.retries_left = 0
    retry_in: float | None = None
    if job.should_retry:
        intervals = list(job.retry_intervals or [0])
        index = max(len(intervals) - int(job.retries_left or 0), 0)
        retry_in = wait_s(intervals[index], verdict)
        if retry_in > intervals[index]:  # Retry-After decides; rq truncates the due time to whole
            retry_in = float(math.ceil(retry_in) + 1)  # seconds, so one more keeps us past it
        intervals[index] = int(retry_in)
        job.retry_intervals = intervals
    report(attempt, exc, verdict, retry_in_s=retry_in, settings=load_settings())


def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | Any,
) -> None:
    """rq failure callback (every failed attempt, and jobs found abandoned in StartedJobRegistry)."""
    del connection, traceback
    decide_rq(job, exc_value if exc_value is not None else (exc_type or RuntimeError)())


def on_success(job: Job, connection: Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    """rq success callback: the job is finished; its return value (e.g. a plan id) is the result ref."""
    del connection, args, kwargs
    meta = job.meta or {}
    ref = None if result is None else str(result)[:200]
    records.mark(
        load_settings().database_url,
        job.id,
        JobStatus.FINISHED,
        kind=str(meta.get("kind", "")),
        thread_id=meta.get("thread_id"),
        result_ref=ref,
    )


def on_horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """The forked process running `job` died (kill -9, out of memory): retry it or fail with a message."""
    del retpid, rusage
    import os

    signal = os.WTERMSIG(ret_val) if ret_val and os.WIFSIGNALED(ret_val) else None
    how = f"signal {signal}" if signal is not None else f"exit status {ret_val}"
    decide_rq(job, WorkerKilledError(f"the process running it ended with {how}"))
