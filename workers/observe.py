"""Outcome jobs: observe a deployment through Prometheus, store the outcome, post the digest.

    observe_deployment(deployment_id, window)   query, compare with the plan, store the outcome
    post_digest(thread_id, window)              observed vs predicted of a thread's chosen option, posted
                                                in the thread (stores nothing unless store=True)
    observe_all_deployments(window="1h")        scheduled hourly: store one outcome window per deployed thread
    post_all_digests(window="1d")               scheduled daily: post_digest in every deployed thread

Hourly windows tile time, so each request counts once in an outcome's observation log; digests
read longer windows for people and leave the log alone.

A deployment id is "plan-<plan id>-option-<rank>"; its served model name is the InferenceService
name `deploy.names.derive_name` gives (pass `model_name` when it was overridden at deploy time).
Without PROMETHEUS_URL nothing is queried and the digest says "no metrics source configured".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot import digest_blocks
from kb import repository
from kb import threads as kb_threads
from kb.errors import NotFoundError
from planner.corrections import Corrections
from planner.errors import InvalidInputError
from planner.outcomes import (
    Comparison,
    ObservedMetrics,
    compare,
    corrections_for,
    record_observation,
    targets_from_spec,
)
from planner.plan import Option, PlanResult
from planner.thread import ThreadStatus
from planner.types import DeploymentOutcome
from workers import records
from workers.notify import ThreadPoster, slack_client
from workers.prometheus import MetricsUnavailableError, PrometheusSource
from workers.settings import WorkerSettings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_ID_RE = re.compile(r"^plan-(\d+)-option-(\d+)$")
DEPLOYED = (ThreadStatus.SUCCESS, ThreadStatus.FEEDBACK_LOOP)


class MetricsSource(Protocol):
    def observe(
        self, model_name: str, *, namespace: str | None = None, window: str = "1h", at: datetime | None = None
    ) -> ObservedMetrics: ...


def deployment_id(plan_id: int, rank: int) -> str:
    return f"plan-{plan_id}-option-{rank}"


def parse_deployment_id(text: str) -> tuple[int, int]:
    """(plan id, rank) of "plan-12-option-1".

    Raises:
        InvalidInputError: any other shape.
    """
    match = _ID_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidInputError(f"deployment id {text!r} is not of the form plan-<plan id>-option-<rank>")
    return int(match[1]), int(match[2])


def served_model_name(option: Option) -> str:
    from deploy.names import derive_name

    return derive_name(option.model_id, option.gpu_type, option.tensor_parallel)


@dataclass(frozen=True)
class Observation:
    """One observed window of one deployment, and what was stored."""

    deployment_id: str
    plan_id: int
    option: Option
    observed: ObservedMetrics
    comparison: Comparison
    outcome: DeploymentOutcome
    corrections: Corrections  # what all stored outcomes now imply for this model and GPU

    @property
    def title(self) -> str:
        gpus = f"{self.option.gpu_count}× {self.option.gpu_type}"
        return f"Outcome of option {self.option.rank}: {self.option.model_id} on {gpus}"

    def summary(self) -> dict[str, Any]:
        """A JSON-ready result for RQ and `--json`."""
        return {
            "deployment_id": self.deployment_id,
            "model_name": self.observed.model_name,
            "window": self.observed.window,
            "has_traffic": self.comparison.has_traffic,
            "series_found": self.comparison.series_found,
            "slo_met": self.comparison.slo_met,
            "compliance": self.comparison.compliance(),
            "observed": self.observed.to_dict(),
            "corrections": {
                "ttft": self.corrections.ttft,
                "itl": self.corrections.itl,
                "e2e": self.corrections.e2e,
                "throughput": round(self.corrections.throughput, 4),
                "confidence": self.corrections.confidence,
                "note": self.corrections.note,
            },
        }


def _load_option(session: Session, plan_id: int, rank: int) -> tuple[PlanResult, Option]:
    stored = kb_threads.get_plan(session=session, plan_id=plan_id)
    if stored is None:
        raise NotFoundError(
            f"no plan {plan_id} is stored; the deployment id names a plan that does not exist"
        )
    plan = PlanResult.model_validate(stored["result"])
    option = next((o for o in plan.options if o.rank == rank), None)
    if option is None:
        ranks = ", ".join(str(o.rank) for o in plan.options) or "none"
        raise NotFoundError(f"plan {plan_id} has no option {rank} (options: {ranks})")
    return plan, option


def observe_and_store(
    deployment: str,
    window: str,
    *,
    source: MetricsSource,
    settings: WorkerSettings,
    model_name: str | None = None,
    namespace: str | None = None,
    now: datetime | None = None,
    store: bool = True,
) -> Observation:
    """Query the source, compare with the plan's prediction and (when `store`) store the outcome.

    Raises:
        InvalidInputError: a bad deployment id or window. NotFoundError: no such plan or option.
        MetricsUnavailableError: Prometheus could not be queried (nothing is stored).
    """
    plan_id, rank = parse_deployment_id(deployment)
    at = now or datetime.now(UTC)
    sessions = records.sessions_for(settings.database_url)
    with sessions() as session:
        plan, option = _load_option(session, plan_id, rank)
    name = model_name or served_model_name(option)
    observed = source.observe(name, namespace=namespace, window=window, at=now)
    comparison = compare(observed, predicted=option.predicted, targets=targets_from_spec(plan.spec))
    with sessions() as session, session.begin():
        previous = next(iter(_outcomes(session, option, deployment)), None)
        outcome = record_observation(
            previous,
            observed,
            comparison,
            deployment_id=deployment,
            option=option,
            at=at,
            plan_id=plan_id,
        )
        if store:
            repository.save_outcome(session=session, outcome=outcome)
        stored = repository.list_outcomes(session=session)
    corrections = corrections_for(stored, model_id=option.model_id, gpu_id=option.gpu_type)
    return Observation(deployment, plan_id, option, observed, comparison, outcome, corrections)


def _outcomes(session: Session, option: Option, deployment: str) -> list[DeploymentOutcome]:
    same = repository.list_outcomes(session=session, model_id=option.model_id, gpu_type=option.gpu_type)
    return [o for o in same if o.deployment_id == deployment]


def observe_deployment(
    deployment_id: str,
    window: str = "1h",
    *,
    model_name: str | None = None,
    namespace: str | None = None,
    settings: WorkerSettings | None = None,
    source: MetricsSource | None = None,
) -> dict[str, Any]:
    """The job: observe one deployment over the window and store its outcome; a JSON-ready summary.

    Returns {"configured": False, ...} without PROMETHEUS_URL (nothing is stored).
    """
    settings = settings or load_settings()
    if source is None:
        if not settings.prometheus_url:
            return {
                "deployment_id": deployment_id,
                "configured": False,
                "message": digest_blocks.NOT_CONFIGURED,
            }
        source = PrometheusSource(settings.prometheus_url)
    result = observe_and_store(
        deployment_id, window, source=source, settings=settings, model_name=model_name, namespace=namespace
    )
    return {"configured": True, **result.summary()}


def post_digest(
    thread_id: str,
    window: str = "1d",
    *,
    store: bool = False,
    settings: WorkerSettings | None = None,
    source: MetricsSource | None = None,
) -> dict[str, Any]:
    """The job: observe the thread's chosen option and post observed vs predicted into the thread."""
    settings = settings or load_settings()
    with records.sessions_for(settings.database_url)() as session:
        state = kb_threads.get_thread(session=session, thread_id=thread_id)
    if state is None:
        raise NotFoundError(f"no thread {thread_id!r} is stored")
    poster = ThreadPoster(slack_client(settings), state.channel_id, state.thread_ts)
    if state.plan_id is None or state.chosen_rank is None:
        poster.post(digest_blocks.nothing_deployed_message())
        return {"thread_id": thread_id, "posted": "nothing_deployed"}
    if source is None and not settings.prometheus_url:
        poster.post(digest_blocks.not_configured_message())
        return {"thread_id": thread_id, "posted": "not_configured"}
    the_source = source or PrometheusSource(settings.prometheus_url or "")
    deployment = deployment_id(state.plan_id, state.chosen_rank)
    try:
        result = observe_and_store(deployment, window, source=the_source, settings=settings, store=store)
    except MetricsUnavailableError as exc:
        logger.warning("digest of %s: %s", thread_id, exc)
        poster.post(digest_blocks.unavailable_message(str(exc)))
        return {"thread_id": thread_id, "posted": "unavailable", "error": str(exc)}
    poster.post(
        digest_blocks.digest_message(
            result.observed, result.comparison, title=result.title, corrections=result.corrections
        )
    )
    _enter_feedback_loop(settings, thread_id, state.status)
    return {"thread_id": thread_id, "posted": "digest", **result.summary()}


def _enter_feedback_loop(settings: WorkerSettings, thread_id: str, status: ThreadStatus) -> None:
    if status != ThreadStatus.SUCCESS:
        return
    with records.sessions_for(settings.database_url)() as session, session.begin():
        kb_threads.set_status(session=session, thread_id=thread_id, status=ThreadStatus.FEEDBACK_LOOP)


def deployed_threads(settings: WorkerSettings) -> list[str]:
    """Ids of threads whose deployment succeeded (Success or FeedbackLoop)."""
    from sqlalchemy import select

    from kb.tables import Thread

    query = select(Thread.id).where(Thread.status.in_([s.value for s in DEPLOYED])).order_by(Thread.id)
    with records.sessions_for(settings.database_url)() as session:
        return list(session.scalars(query))


def observe_all_deployments(window: str = "1h") -> dict[str, str]:
    """The hourly job: store one outcome window for every deployed thread's chosen option (no posts)."""
    settings = load_settings()
    if not settings.prometheus_url:
        logger.info("outcome observation skipped: no metrics source configured (PROMETHEUS_URL)")
        return {}
    source = PrometheusSource(settings.prometheus_url)
    done: dict[str, str] = {}
    for thread_id in deployed_threads(settings):
        with records.sessions_for(settings.database_url)() as session:
            state = kb_threads.get_thread(session=session, thread_id=thread_id)
        if state is None or state.plan_id is None or state.chosen_rank is None:
            continue
        deployment = deployment_id(state.plan_id, state.chosen_rank)
        try:
            observe_and_store(deployment, window, source=source, settings=settings)
            done[deployment] = "stored"
        except Exception:
            logger.exception("observing %s (thread %s) failed", deployment, thread_id)
            done[deployment] = "failed"
    return done


def post_all_digests(window: str = "1d") -> dict[str, str]:
    """The daily job: a digest in every deployed thread; one thread's failure does not stop the rest."""
    settings = load_settings()
    if not settings.prometheus_url:
        logger.info("outcome digests skipped: no metrics source configured (PROMETHEUS_URL)")
        return {}
    source = PrometheusSource(settings.prometheus_url)
    done: dict[str, str] = {}
    for thread_id in deployed_threads(settings):
        try:
            done[thread_id] = str(post_digest(thread_id, window, settings=settings, source=source)["posted"])
        except Exception:
            logger.exception("outcome digest of thread %s failed", thread_id)
            done[thread_id] = "failed"
    return done
