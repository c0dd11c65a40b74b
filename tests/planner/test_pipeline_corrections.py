"""Observed outcomes correct the predictions of later plans for the same model and GPU."""

from __future__ import annotations

from datetime import UTC, datetime

from planner.intent import extract
from planner.perf import default_params
from planner.pipeline import plan
from planner.types import DeploymentOutcome

PARAMS = default_params()
TEXT = "support chatbot for 1000 users, latency matters"


def _slow_outcome(model_id: str, gpu_id: str, ratio: float) -> DeploymentOutcome:
    """A day of traffic on which TTFT/TPOT/e2e came out `ratio` times the prediction."""
    windows = [
        {"window_s": 3600, "requests": 500, "ratios": {"ttft": ratio, "tpot": ratio, "e2e": ratio}}
        for _ in range(24)
    ]
    return DeploymentOutcome(
        deployment_id=f"plan-1-option-1-{model_id}",
        model_id=model_id,
        gpu_type=gpu_id,
        gpu_count=1,
        deployed_at=datetime(2026, 11, 1, tzinfo=UTC),
        observation_period_days=1,
        traffic_observed={"observations": windows},
    )


def test_outcomes_raise_the_predicted_latency_of_that_model_and_gpu(catalog) -> None:
    spec = extract(TEXT, catalog=catalog)
    base = plan(spec, catalog, params=PARAMS)
    top = base.options[0]
    outcome = _slow_outcome(top.model_id, top.gpu_type, 1.5)
    corrected = plan(spec, catalog, params=PARAMS, outcomes=[outcome])
    same = [
        o
        for o in corrected.options
        if (o.model_id, o.gpu_type, o.precision, o.tensor_parallel, o.replicas)
        == (top.model_id, top.gpu_type, top.precision, top.tensor_parallel, top.replicas)
    ]
    assert same, "the corrected plan should still offer the same shape (the SLO has room)"
    assert same[0].predicted.ttft_ms > top.predicted.ttft_ms * 1.1
    assert same[0].predicted.tpot_ms > top.predicted.tpot_ms * 1.1
    assert "observed deployment" in same[0].explanation


def test_no_outcomes_change_nothing(catalog) -> None:
    spec = extract(TEXT, catalog=catalog)
    assert plan(spec, catalog, params=PARAMS, outcomes=[]) == plan(spec, catalog, params=PARAMS)
