"""`perf.max_rate_under_slo` with its SLO-independent work done once and kept across what-ifs.

    max_rate(model, gpu, tp=..., precision=..., workload=..., slo=..., params=..., curves={}) -> req/s

The search in `planner.perf_slo` sets up one replica (step-time coefficients, memory, engine limits,
capacity), then evaluates its latency percentiles at fixed grids of request rates (a lone-request
probe, 24 rates up to capacity, then 12 rates inside the bracket where the SLO first breaks) and
compares them with the targets: three evaluations of ~0.85 ms each. The rates it may probe depend
on the capacity alone, so here one evaluation (~1 ms: the cost is per call, not per rate) covers all
of them, the 24 brackets' fine grids included, and the search only compares. The set-up and these
curves depend on the combination, the workload and the percentile, not on the targets, so they are
kept in `curves` (one dict per combination and workload, in the caller's cache): under a new SLO
nothing is evaluated again. The model is elementwise over rates and the rates are computed as
perf_slo computes them, so the rate is identical to `perf.max_rate_under_slo`
(tests/planner/test_rate_cache.py checks it on many combinations and SLOs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.memory import memory_plan
from planner.perf_model import StepCoefs, hardware_costs, step_coefs
from planner.perf_params import PerfParams
from planner.perf_setup import limits_for, load_for, max_model_len
from planner.perf_tail import Q, tail
from planner.perf_types import Arrival, Workload
from planner.serving import RATE, Limits, Load, capacity_rps, mean_value
from planner.types import ArrivalKind, Engine, GpuSpec, ModelSpec, Precision, SloTargets

Curves = dict[object, Any]  # "setup" -> _Setup | None; percentile -> _Curve
COARSE, FINE = 24, 12  # the grids of perf_slo.max_rate_under_slo


@dataclass(frozen=True)
class _Setup:
    coefs: StepCoefs
    limits: Limits
    capacity_rps: float


@dataclass(frozen=True)
class _Curve:
    """Latency percentiles of one replica at every rate the search may probe: the lone-request probe,
    the coarse grid, then the fine grid inside each of the coarse grid's brackets."""

    rates: np.ndarray  # 1 + COARSE + COARSE × FINE
    saturated: np.ndarray
    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    e2e_ms: np.ndarray

    def meets(self, slo: SloTargets) -> np.ndarray:
        ok: np.ndarray = (
            (~self.saturated)
            & (self.ttft_ms <= slo.ttft_ms)
            & (self.tpot_ms <= slo.itl_ms)
            & (self.e2e_ms <= slo.e2e_ms)
        )
        return ok


def max_rate(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine = Engine.VLLM,
    workload: Workload,
    slo: SloTargets,
    params: PerfParams,
    curves: Curves,
) -> float:
    """Requests/s one replica sustains within the SLO, as `perf.max_rate_under_slo` finds it, reusing
    (and filling) `curves`, which must belong to this model, GPU, TP, precision, engine, workload and
    params."""
    if "setup" not in curves:
        curves["setup"] = _setup(
            model, gpu, tp=tp, precision=precision, engine=engine, workload=workload, params=params
        )
    setup: _Setup | None = curves["setup"]
    if setup is None:
        return 0.0
    pct = slo.percentile if slo.percentile in Q else "p95"
    curve: _Curve = curves.get(pct) or curves.setdefault(pct, _curve(setup, workload, pct))
    ok = curve.meets(slo)
    if not ok[0]:
        return 0.0
    start, lo = 1, float(curve.rates[0])
    for points in (COARSE, FINE):
        rates, good = curve.rates[start : start + points], ok[start : start + points]
        if good.all():
            return float(rates[-1])
        first_bad = int(np.argmin(good))
        if first_bad:
            lo = float(rates[first_bad - 1])
        start = 1 + COARSE + FINE * first_bad  # the fine grid inside this bracket
    return lo


def _probe_rates(capacity: float) -> np.ndarray:
    """Every rate perf_slo's search may probe, computed as it computes them: the lone probe, the coarse
    grid, then each bracket's fine grid."""
    lo = capacity * 1e-4
    coarse = np.linspace(lo, capacity, COARSE + 1)[1:]
    fine = [
        np.linspace(float(coarse[j - 1]) if j else lo, float(coarse[j]), FINE + 1)[1:] for j in range(COARSE)
    ]
    return np.concatenate([np.array([lo]), coarse, *fine])


def _setup(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine,
    workload: Workload,
    params: PerfParams,
) -> _Setup | None:
    """The replica's coefficients, limits and capacity; None when the model does not fit."""
    hw = hardware_costs(model, gpu, tp=tp, precision=precision, engine=engine, params=params)
    plan = memory_plan(
        model,
        gpu,
        tp=tp,
        precision=precision,
        max_model_len=max_model_len(model, workload),
        gpu_memory_utilization=params.kv_memory_fraction.get(engine.value, 0.9),
        params=params,
        engine=engine,
    )
    if not plan.fits:
        return None
    coefs = step_coefs(hw, params)
    limits = limits_for(
        engine, params, plan.kv_cache_tokens, is_moe=model.is_moe, top_k=model.num_experts_active
    )
    probe = load_for(workload, Arrival(ArrivalKind.POISSON, rate_rps=1e-6), 1)
    return _Setup(coefs, limits, float(capacity_rps(coefs, probe, limits)))


def _curve(setup: _Setup, workload: Workload, pct: str) -> _Curve:
    """One vectorised evaluation at every probe rate (elementwise, so each value is what the search's
    own, smaller evaluations give)."""
    rates = _probe_rates(setup.capacity_rps)
    n = rates.size
    load = Load(
        input_tokens=np.full(n, float(workload.input_tokens)),
        output_tokens=np.full(n, float(workload.output_tokens)),
        prefix_tokens=np.full(n, float(workload.prefix_tokens)),
        mode=np.full(n, RATE),
        value=rates,
        arrival_cv2=1.0,
        output_cv2=(workload.output_tokens_std / workload.output_tokens) ** 2,
    )
    r = mean_value(setup.coefs, load, setup.limits)
    ttft, tpot, _, e2e = tail(
        setup.coefs,
        load,
        setup.limits,
        r,
        input_std=workload.input_tokens_std,
        output_std=workload.output_tokens_std,
        percentile=pct,
    )
    return _Curve(
        rates, np.asarray(r.saturated, dtype=bool), np.asarray(ttft), np.asarray(tpot), np.asarray(e2e)
    )
