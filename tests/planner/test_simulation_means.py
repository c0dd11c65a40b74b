"""predict()'s means under open arrivals are the simulation's own (consistent with its percentiles);
closed loops and the means-only path keep the mean-value model's means."""

from __future__ import annotations

import numpy as np
import pytest

from planner.perf import Arrival, Prediction, Workload, default_params, predict
from planner.perf_model import hardware_costs, step_coefs
from planner.perf_setup import engine_memory_plan, limits_for, load_for, max_model_len
from planner.serving import mean_value
from planner.simulation import horizon, simulate
from planner.types import ArrivalKind, Engine, Precision
from tests.planner.perf_specs import H100, LLAMA_8B

P = default_params()
W = Workload(input_tokens=512, output_tokens=128)
KEYS = ("ttft", "tpot", "itl", "e2e")


def _predict(arrival: Arrival, *, percentiles: bool = True, seed: int = 0) -> Prediction:
    return predict(
        LLAMA_8B,
        H100,
        tp=1,
        precision=Precision.BF16,
        workload=W,
        arrival=arrival,
        params=P,
        percentiles=percentiles,
        seed=seed,
    )


def _capacity_rps() -> float:
    return float(_predict(Arrival(ArrivalKind.POISSON, rate_rps=1.0), percentiles=False).capacity_rps)


def _des_means(rate: float, seed: int) -> dict[str, float]:
    """The same simulation predict() runs, done by hand: its sample means."""
    hw = hardware_costs(LLAMA_8B, H100, tp=1, precision=Precision.BF16, engine=Engine.VLLM, params=P)
    plan = engine_memory_plan(
        LLAMA_8B,
        H100,
        tp=1,
        precision=Precision.BF16,
        engine=Engine.VLLM,
        max_model_len=max_model_len(LLAMA_8B, W),
        params=P,
    )
    limits = limits_for(Engine.VLLM, P, plan.kv_cache_tokens)
    load = load_for(W, Arrival(ArrivalKind.POISSON, rate_rps=rate), 1)
    coefs = step_coefs(hw, P)
    r = mean_value(coefs, load, limits)
    sim = simulate(coefs, load, limits, W, seed=seed, n=horizon(load, r), warm_batch=float(r.batch))
    means = {k: float(sim[k].mean()) for k in ("ttft", "tpot", "e2e")}
    means["itl"] = float(np.average(sim["itl"], weights=sim["itl_weight"]))
    return means


@pytest.mark.parametrize("share", [0.25, 0.85])
def test_open_loop_means_are_the_simulated_means_and_sit_inside_their_percentiles(share: float) -> None:
    rate = _capacity_rps() * share
    pred = _predict(Arrival(ArrivalKind.POISSON, rate_rps=rate), seed=3)
    want = _des_means(rate, seed=3)
    for key in KEYS:
        stats = getattr(pred, f"{key}_ms")
        assert stats.mean == pytest.approx(want[key], rel=1e-9), key
        # TPOT and e2e are near-symmetric at high load: their mean may sit a hair under the median
        assert 0.97 * stats.p50 <= stats.mean <= stats.p99, (key, stats)


def test_near_capacity_the_mean_is_above_the_median_as_queues_are_right_skewed() -> None:
    pred = _predict(Arrival(ArrivalKind.POISSON, rate_rps=_capacity_rps() * 0.85))
    assert pred.ttft_ms.mean > pred.ttft_ms.p50
    assert pred.itl_ms.mean > pred.itl_ms.p50


def test_means_only_path_closed_loops_and_throughput_keep_the_mean_value_figures() -> None:
    rate = _capacity_rps() * 0.85
    fast = _predict(Arrival(ArrivalKind.POISSON, rate_rps=rate), percentiles=False)
    full = _predict(Arrival(ArrivalKind.POISSON, rate_rps=rate))
    assert full.requests_per_s == fast.requests_per_s
    assert full.output_tokens_per_s == fast.output_tokens_per_s
    assert full.ttft_ms.mean != pytest.approx(fast.ttft_ms.mean, rel=1e-6)  # the DES's, not the model's
    closed = Arrival(ArrivalKind.CLOSED_LOOP, concurrency=32)
    closed_fast, closed_full = _predict(closed, percentiles=False), _predict(closed)
    for key in KEYS:
        assert getattr(closed_full, f"{key}_ms").mean == getattr(closed_fast, f"{key}_ms").mean, key


@pytest.mark.parametrize("share", [0.25, 0.85])
def test_breakdown_adds_up_to_the_simulated_e2e_mean(share: float) -> None:
    pred = _predict(Arrival(ArrivalKind.POISSON, rate_rps=_capacity_rps() * share))
    assert pred.breakdown.total_ms == pytest.approx(pred.e2e_ms.mean, rel=1e-3)
    assert pred.breakdown.queue_ms >= 0.0 and pred.breakdown.decode_ms > 0.0


@pytest.mark.parametrize("users", [4, 8, 32])
def test_closed_loop_means_sit_within_their_percentiles(users: int) -> None:
    """Closed loops report the calibrated means; per-request figures (TTFT, TPOT, e2e) keep the
    simulation's percentile / mean ratios on them, so no mean lands above its own p99."""
    pred = _predict(Arrival(ArrivalKind.CLOSED_LOOP, concurrency=users))
    for key in ("ttft", "tpot", "e2e"):
        s = getattr(pred, f"{key}_ms")
        assert s.p50 <= s.p90 <= s.p95 <= s.p99, key
        assert s.mean <= s.p99 * 1.01, key
