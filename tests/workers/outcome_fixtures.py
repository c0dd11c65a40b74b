"""Helpers for the outcome tests: a stored thread with a plan and a chosen option, fake metrics sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kb import threads as kb_threads
from planner.outcomes import LatencyStats, ObservedMetrics
from planner.plan import PlanResult
from workers import records
from workers.settings import WorkerSettings

MODEL_ID = "meta-llama/Llama-3.1-8B-Instruct"
GPU = "H100-SXM"
SERVED_NAME = "llama-3-1-8b-instruct-h100-sxm-tp1"  # deploy.names.derive_name(MODEL_ID, GPU, 1)
SLO = {"ttft_ms": 500.0, "tpot_ms": 50.0, "e2e_ms": 10_000.0, "percentile": "p95"}


def plan_dict(*, ttft_ms: float = 200.0, tpot_ms: float = 20.0, e2e_ms: float = 4000.0) -> dict[str, Any]:
    """A one-option plan as `predeploy plan --json` prints it."""
    option = {
        "rank": 1,
        "model_id": MODEL_ID,
        "gpu_type": GPU,
        "gpu_count": 1,
        "tensor_parallel": 1,
        "replicas": 1,
        "precision": "bf16",
        "predicted": {
            "ttft_ms": ttft_ms,
            "tpot_ms": tpot_ms,
            "e2e_ms": e2e_ms,
            "throughput_rps": 2.0,
            "max_qps": 8.0,
            "percentile": "p95",
        },
        "cost_per_month_usd": 2000.0,
        "meets_slo": True,
        "pareto": True,
        "score": 0.9,
        "explanation": "fits",
    }
    spec = {"use_case": "chatbot", "slo": SLO}
    result = {"spec": spec, "options": [option], "infeasible": [], "questions": []}
    PlanResult.model_validate(result)
    return result


def store_thread(settings: WorkerSettings, *, plan: dict[str, Any] | None = None, choose: bool = True) -> str:
    """A thread (channel C1, ts 111.222) with one stored plan, option 1 chosen; returns the thread id."""
    with records.sessions_for(settings.database_url)() as session, session.begin():
        state = kb_threads.get_or_create_thread(
            session=session, team_id="T1", channel_id="C1", thread_ts="111.222", user_id="U1"
        )
        if plan is not None:
            plan_id = kb_threads.save_plan(session=session, thread_id=state.id, spec_version=1, result=plan)
            if choose:
                kb_threads.record_choice(
                    session=session, thread_id=state.id, plan_id=plan_id, rank=1, user_id="U1"
                )
    return state.id


def observed(
    *,
    ttft_p95_ms: float | None = 260.0,
    tpot_p95_ms: float | None = 22.0,
    e2e_p95_ms: float | None = 4400.0,
    rps: float | None = 1.5,
    window: str = "1h",
    series_found: bool = True,
) -> ObservedMetrics:
    def stats(p95: float | None) -> LatencyStats:
        if p95 is None:
            return LatencyStats()
        return LatencyStats(
            p50_ms=p95 * 0.5, p90_ms=p95 * 0.9, p95_ms=p95, p99_ms=p95 * 1.2, mean_ms=p95 * 0.6
        )

    return ObservedMetrics(
        model_name=SERVED_NAME,
        window=window,
        window_s=3600.0,
        ttft=stats(ttft_p95_ms),
        itl=stats(tpot_p95_ms),
        tpot=stats(tpot_p95_ms),
        e2e=stats(e2e_p95_ms),
        requests_per_s=rps,
        output_tokens_per_s=None if rps is None else rps * 200,
        kv_cache_usage=0.42,
        queue_waiting=3.0,
        series_found=series_found,
    )


@dataclass
class FakeSource:
    """A metrics source returning a fixed observation, recording what was asked."""

    result: ObservedMetrics | Exception
    calls: list[dict[str, Any]] = field(default_factory=list)

    def observe(
        self, model_name: str, *, namespace: str | None = None, window: str = "1h", at: datetime | None = None
    ) -> ObservedMetrics:
        self.calls.append({"model_name": model_name, "namespace": namespace, "window": window})
        if isinstance(self.result, Exception):
            raise self.result
        return self.result
