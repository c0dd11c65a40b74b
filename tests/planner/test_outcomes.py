"""Observed vs predicted comparisons and corrections learnt from outcomes: table-driven, no I/O."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from planner.corrections import (
    MAX_FACTOR,
    MIN_FACTOR,
    Corrections,
    apply_corrections,
    correct_predicted,
    gpu_family,
    outcome_weight,
)
from planner.errors import InvalidInputError
from planner.outcomes import (
    LatencyStats,
    Metric,
    ObservedMetrics,
    bucket_of,
    compare,
    corrections_for,
    parse_window_s,
    record_observation,
    targets_from_spec,
)
from planner.plan import Option, Predicted
from planner.types import DeploymentOutcome, SloTargets

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MODEL, GPU = "meta-llama/Llama-3.1-8B-Instruct", "H100-SXM"
TTFT_BOUNDS_MS = (1.0, 5.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0)


def predicted(ttft: float = 200.0, tpot: float = 20.0, e2e: float = 4000.0) -> Predicted:
    return Predicted(
        ttft_ms=ttft, tpot_ms=tpot, e2e_ms=e2e, throughput_rps=2.0, max_qps=8.0, percentile="p95"
    )


def option(**kw: Any) -> Option:
    values: dict[str, Any] = {
        "rank": 1,
        "model_id": MODEL,
        "gpu_type": GPU,
        "gpu_count": 1,
        "tensor_parallel": 1,
        "replicas": 1,
        "precision": "bf16",
        "predicted": predicted(),
        "cost_per_month_usd": 730.0,
        "meets_slo": True,
        "pareto": True,
        "score": 1.0,
        "explanation": "",
    }
    return Option(**(values | kw))


def observed(ttft_p95: float | None = 300.0, *, rps: float | None = 2.0, **kw: Any) -> ObservedMetrics:
    ttft = LatencyStats(p50_ms=100.0, p90_ms=250.0, p95_ms=ttft_p95, p99_ms=600.0, mean_ms=150.0)
    values: dict[str, Any] = {
        "model_name": "m",
        "window": "1h",
        "window_s": 3600.0,
        "ttft": ttft if ttft_p95 is not None else LatencyStats(),
        "tpot": LatencyStats(p95_ms=25.0),
        "itl": LatencyStats(p95_ms=30.0),
        "e2e": LatencyStats(p95_ms=3000.0),
        "requests_per_s": rps,
        "buckets_ms": {"ttft": TTFT_BOUNDS_MS},
    }
    return ObservedMetrics(**(values | kw))


SLO = SloTargets(ttft_ms=500.0, itl_ms=22.0, e2e_ms=10_000.0, percentile="p95")


# --- windows and buckets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("90s", 90), (" 5m ", 300)],
)
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window_s(text) == seconds


@pytest.mark.parametrize("text", ["", "1 hour", "h", "0m", "-1h", "1.5h", "5M"])
def test_bad_windows_say_what_to_write(text: str) -> None:
    with pytest.raises(InvalidInputError, match="window"):
        parse_window_s(text)


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (0.5, (0.0, 1.0)),
        (1.0, (0.0, 1.0)),
        (300.0, (250.0, 500.0)),
        (1600.0, (1000.0, 2500.0)),
        (5000.0, (5000.0, None)),
    ],
)
def test_bucket_of(value: float, bucket: tuple[float, float | None]) -> None:
    assert bucket_of(value, TTFT_BOUNDS_MS) == bucket


def test_bucket_of_without_bounds_is_none() -> None:
    assert bucket_of(10.0, ()) is None


# --- comparison -------------------------------------------------------------------------------------


def test_compare_rows_deltas_and_verdicts() -> None:
    c = compare(observed(), predicted=predicted(), targets=SLO)
    ttft, tpot, e2e = c.rows
    assert (ttft.metric, ttft.observed_ms, ttft.predicted_ms, ttft.target_ms) == (
        Metric.TTFT,
        300.0,
        200.0,
        500.0,
    )
    assert ttft.delta_pct == pytest.approx(50.0)
    assert ttft.meets_slo is True
    assert tpot.observed_ms == 25.0  # the per-request TPOT histogram, not ITL
    assert tpot.meets_slo is False
    assert e2e.delta_pct == pytest.approx(-25.0)
    assert c.slo_met is False
    assert c.has_traffic and c.percentile == "p95"


def test_tpot_falls_back_to_itl_when_the_tpot_histogram_is_empty() -> None:
    c = compare(observed(tpot=LatencyStats()), predicted=predicted(), targets=SLO)
    assert c.row(Metric.TPOT) is not None
    assert c.rows[1].observed_ms == 30.0


def test_no_traffic_means_no_verdict_and_no_delta() -> None:
    c = compare(
        observed(None, rps=0.0, tpot=LatencyStats(), itl=LatencyStats(), e2e=LatencyStats()),
        predicted=predicted(),
        targets=SLO,
    )
    assert not c.has_traffic
    assert all(r.observed_ms is None and r.delta_pct is None and r.meets_slo is None for r in c.rows)
    assert c.slo_met is None
    assert c.notes() == ()


def test_without_targets_there_is_no_verdict() -> None:
    c = compare(observed(), predicted=predicted(), targets=None)
    assert c.slo_met is None and c.rows[0].meets_slo is None


def test_a_target_inside_the_observed_bucket_is_flagged_inexact() -> None:
    # observed 1,600 ms lies in the 1.0-2.5 s bucket; a 2 s target inside it cannot be checked exactly
    slo = SloTargets(ttft_ms=2000.0, itl_ms=50.0, e2e_ms=10_000.0)
    c = compare(observed(1600.0), predicted=predicted(), targets=slo)
    row = c.rows[0]
    assert row.meets_slo is True and not row.is_exact and row.is_coarse
    (note,) = c.notes()
    assert "1 s–2.5 s" in note and "cannot be checked exactly" in note


def test_a_quantile_beyond_the_last_bucket_says_at_least() -> None:
    c = compare(observed(5000.0), predicted=predicted(), targets=SLO)
    assert c.rows[0].bucket_ms == (5000.0, None)
    assert "at least" in c.notes()[0]


def test_a_narrow_bucket_gives_no_note() -> None:
    c = compare(observed(50.0), predicted=predicted(), targets=SLO)  # 40-60 ms
    assert c.notes() == ()


def test_compliance_record() -> None:
    record = compare(observed(), predicted=predicted(), targets=SLO).compliance()
    assert record["percentile"] == "p95" and record["met"] is False
    assert record["ttft"] == {
        "target_ms": 500.0,
        "observed_ms": 300.0,
        "predicted_ms": 200.0,
        "met": True,
        "exact": True,
    }


def test_targets_from_spec() -> None:
    spec = {"slo": {"ttft_ms": 300, "tpot_ms": 40, "e2e_ms": 8000, "percentile": "p90"}}
    assert targets_from_spec(spec) == SloTargets(ttft_ms=300.0, itl_ms=40.0, e2e_ms=8000.0, percentile="p90")
    assert targets_from_spec({}) is None
    assert targets_from_spec({"slo": {"ttft_ms": "x"}}) is None


def test_observed_metrics_round_trip_through_json_dicts() -> None:
    o = observed()
    assert ObservedMetrics.from_dict(o.to_dict()) == o
    assert ObservedMetrics.from_dict(o.to_dict()).buckets_ms == o.buckets_ms


def test_latency_stats_at_rejects_unknown_percentiles() -> None:
    with pytest.raises(InvalidInputError, match="p42"):
        LatencyStats().at("p42")


# --- recording observations ---------------------------------------------------------------------------


def test_record_observation_appends_ratios_and_keeps_the_first_time() -> None:
    first = record_observation(
        None,
        observed(),
        compare(observed(), predicted=predicted(), targets=SLO),
        deployment_id="d1",
        option=option(),
        at=T0,
    )
    assert first.ttft_p90_ms == 250.0 and first.e2e_latency_p95_ms == 3000.0 and first.tpot_p90_ms is None
    assert first.cost_per_hour_usd == 1.0
    (entry,) = first.traffic_observed["observations"]
    assert entry["requests"] == 7200.0
    assert entry["ratios"] == {"ttft": 1.5, "tpot": 1.25, "e2e": 0.75}
    assert entry["coarse"] == ["ttft"]  # 300 ms lies in the 250-500 ms bucket, 2x wide

    later = T0 + timedelta(days=2, hours=1)
    second = record_observation(
        first,
        observed(),
        compare(observed(), predicted=predicted(), targets=SLO),
        deployment_id="d1",
        option=option(),
        at=later,
    )
    assert second.deployed_at == T0 and second.observation_period_days == 2
    assert len(second.traffic_observed["observations"]) == 2


def test_a_window_without_traffic_keeps_the_last_figures() -> None:
    busy = observed()
    first = record_observation(
        None,
        busy,
        compare(busy, predicted=predicted(), targets=SLO),
        deployment_id="d1",
        option=option(),
        at=T0,
    )
    idle = observed(None, rps=0.0)
    second = record_observation(
        first,
        idle,
        compare(idle, predicted=predicted(), targets=SLO),
        deployment_id="d1",
        option=option(),
        at=T0,
    )
    assert second.ttft_p90_ms == first.ttft_p90_ms
    assert len(second.traffic_observed["observations"]) == 1


# --- corrections --------------------------------------------------------------------------------------


def outcome(
    ratio: float | dict[str, float],
    *,
    model: str = MODEL,
    gpu: str = GPU,
    hours: float = 24.0,
    requests: float = 10_000.0,
    n: int = 1,
    deployment: str = "d",
    coarse: tuple[str, ...] = (),
) -> DeploymentOutcome:
    ratios = ratio if isinstance(ratio, dict) else {"ttft": ratio, "tpot": ratio, "e2e": ratio}
    entry = {"at": T0.isoformat(), "window_s": hours * 3600 / n, "requests": requests / n, "ratios": ratios}
    log = [entry | {"coarse": list(coarse)}] * n
    return DeploymentOutcome(
        deployment_id=deployment,
        model_id=model,
        gpu_type=gpu,
        gpu_count=1,
        deployed_at=T0,
        observation_period_days=0,
        traffic_observed={"observations": log},
    )


def test_no_outcomes_no_correction() -> None:
    c = corrections_for([], model_id=MODEL, gpu_id=GPU)
    assert c == Corrections() and c.is_identity and c.note == "" and c.throughput == 1.0
    assert apply_corrections(123.0, c, "ttft") == 123.0


@pytest.mark.parametrize(
    ("ratios", "low", "high"),
    [
        ([1.0], 1.0, 1.0),  # predictions were right: nothing to correct
        ([2.0], 1.15, 1.22),  # one full-weight outcome moves a quarter of the way (log space)
        ([2.0] * 5, 1.4, 1.6),
        ([2.0] * 50, 1.8, 2.0),  # much evidence: close to the observed ratio
        ([0.5] * 5, 0.6, 0.7),
        ([100.0], 1.0, 1.33),  # a wild outcome is clipped to 3x and shrunk
        ([100.0] * 100, MAX_FACTOR, MAX_FACTOR),  # the factor itself is bounded
        ([0.01] * 100, MIN_FACTOR, MIN_FACTOR),
    ],
)
def test_corrections_shrink_toward_one_and_are_bounded(ratios: list[float], low: float, high: float) -> None:
    outcomes = [outcome(r, deployment=f"d{i}") for i, r in enumerate(ratios)]
    c = corrections_for(outcomes, model_id=MODEL, gpu_id=GPU)
    for factor in (c.ttft, c.itl, c.e2e):
        assert low <= factor <= high
    assert MIN_FACTOR <= c.ttft <= MAX_FACTOR


def test_confidence_grows_with_the_number_of_outcomes() -> None:
    conf = [
        corrections_for(
            [outcome(1.3, deployment=f"d{i}") for i in range(n)], model_id=MODEL, gpu_id=GPU
        ).confidence
        for n in (1, 2, 5, 20)
    ]
    assert conf == sorted(conf) and conf[0] > 0 and conf[-1] < 1


def test_longer_observation_weighs_more() -> None:
    short = corrections_for([outcome(2.0, hours=1, requests=100)], model_id=MODEL, gpu_id=GPU)
    long = corrections_for([outcome(2.0, hours=48, requests=50_000)], model_id=MODEL, gpu_id=GPU)
    assert 1.0 < short.ttft < long.ttft
    assert short.confidence < long.confidence


@pytest.mark.parametrize(
    ("hours", "requests", "weight"),
    [(0, 100, 0.0), (24, 0, 0.0), (24, 1000, 1.0), (6, 1000, 0.5), (96, 10**6, 1.0)],
)
def test_outcome_weight(hours: float, requests: float, weight: float) -> None:
    assert outcome_weight(hours, requests) == pytest.approx(weight)


def test_quantiles_from_coarse_buckets_weigh_less() -> None:
    sharp = corrections_for([outcome(2.0)], model_id=MODEL, gpu_id=GPU)
    coarse = corrections_for([outcome(2.0, coarse=("ttft",))], model_id=MODEL, gpu_id=GPU)
    assert 1.0 < coarse.ttft < sharp.ttft
    assert coarse.itl == sharp.itl and coarse.e2e == sharp.e2e


def test_one_noisy_outcome_cannot_swing_an_established_correction() -> None:
    steady = [outcome(1.2, deployment=f"d{i}") for i in range(10)]
    before = corrections_for(steady, model_id=MODEL, gpu_id=GPU)
    after = corrections_for([*steady, outcome(50.0, deployment="noisy")], model_id=MODEL, gpu_id=GPU)
    assert abs(math.log(after.ttft / before.ttft)) < math.log(1.12)


def test_other_models_on_the_same_gpu_family_give_a_weaker_correction() -> None:
    others = [
        outcome(1.5, model="Qwen/Qwen2.5-7B-Instruct", gpu="H100-PCIe", deployment=f"q{i}") for i in range(5)
    ]
    family = corrections_for(others, model_id=MODEL, gpu_id=GPU)
    exact = corrections_for([outcome(1.5, deployment=f"e{i}") for i in range(5)], model_id=MODEL, gpu_id=GPU)
    assert family.scope == "GPU family" and exact.scope == "model×GPU"
    assert 1.0 < family.ttft < exact.ttft
    assert "H100-class" in family.note


def test_other_gpu_families_do_not_count() -> None:
    c = corrections_for([outcome(2.0, gpu="A100-80GB")], model_id=MODEL, gpu_id=GPU)
    assert c.is_identity and c.outcomes == 0


def test_outcomes_without_traffic_do_not_count() -> None:
    empty = DeploymentOutcome("d", MODEL, GPU, 1, T0, 3)
    assert corrections_for([empty], model_id=MODEL, gpu_id=GPU).is_identity


def test_outcomes_from_columns_when_there_is_no_log() -> None:
    o = DeploymentOutcome(
        "d", MODEL, GPU, 1, T0, 2, ttft_p90_ms=300.0, throughput_avg_rps=1.0,
        predicted={"ttft_ms": 200.0, "percentile": "p90"},
    )  # fmt: skip
    c = corrections_for([o], model_id=MODEL, gpu_id=GPU)
    assert c.ttft > 1.0 and c.itl == 1.0 and c.outcomes == 1


def test_the_note_says_by_how_much_and_from_what() -> None:
    c = corrections_for(
        [outcome({"ttft": 1.5}, deployment=f"d{i}") for i in range(3)], model_id=MODEL, gpu_id=GPU
    )
    assert c.note.startswith("corrected by +")
    assert "TTFT from 3 observed deployments of this model on H100-SXM" in c.note
    assert "TPOT" not in c.note and c.itl == 1.0


def test_apply_corrections_per_metric() -> None:
    c = Corrections(ttft=1.1, itl=1.25, e2e=0.9)
    assert apply_corrections(100.0, c, "ttft") == pytest.approx(110.0)
    assert apply_corrections(100.0, c, Metric.TPOT) == pytest.approx(125.0)
    assert apply_corrections(100.0, c, "itl") == pytest.approx(125.0)
    assert apply_corrections(10.0, c, "throughput") == pytest.approx(8.0)
    assert apply_corrections(None, c, "e2e") is None
    assert apply_corrections(math.inf, c, "e2e") == math.inf
    with pytest.raises(ValueError, match="latency"):
        apply_corrections(1.0, c, "latency")


def test_correct_predicted() -> None:
    p = correct_predicted(predicted(), Corrections(ttft=1.1, itl=1.25, e2e=0.9))
    assert (p.ttft_ms, p.tpot_ms, p.e2e_ms, p.max_qps) == (220.0, 25.0, 3600.0, 6.4)
    assert p.throughput_rps == 2.0 and p.percentile == "p95"
    assert correct_predicted(predicted(), Corrections()) == predicted()


@pytest.mark.parametrize(
    ("gpu", "family"), [("H100-SXM", "H100"), ("H100-PCIe", "H100"), ("A100-80GB", "A100"), ("L40S", "L40S")]
)
def test_gpu_family(gpu: str, family: str) -> None:
    assert gpu_family(gpu) == family
