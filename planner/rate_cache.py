"""`perf.max_rate_under_slo` with its SLO-independent work kept across what-if scenarios.

    max_rate(model, gpu, tp=..., precision=..., workload=..., slo=..., params=..., curves={}) -> req/s

The search in `planner.perf_slo` sets up one replica (step-time coefficients, memory, engine limits,
capacity), then evaluates its latency percentiles at fixed grids of request rates (a lone-request
probe, 24 rates up to capacity, then 12 rates inside the bracket where the SLO first breaks) and
compares them with the targets. The set-up and the latencies at a grid depend on the combination,
the workload and the percentile, not on the targets, so they are kept in `curves` (one dict per
combination and workload, owned by the caller's cache): under a new SLO only the comparisons are
redone, plus one 12-rate grid when the bracket moves. Same grids, same calls: the rate is identical
to `perf.max_rate_under_slo` (tests/planner/test_rate_cache.py checks it on many combinations).
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

Curves = dict[object, Any]  # "setup" -> _Setup | None; (percentile, lo, hi, points) -> _Curve
COARSE, FINE = 24, 12  # the grids of perf_slo.max_rate_under_slo


@dataclass(frozen=True)
class _Setup:
    coefs: StepCoefs
    limits: Limits
    capacity_rps: float


@dataclass(frozen=True)
class _Curve:
    """Latency percentiles of one replica at a grid of Poisson arrival rates."""

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

    def meets(lo: float, hi: float, points: int) -> np.ndarray:
        key = (pct, lo, hi, points)
        curve = curves.get(key)
        if curve is None:
            rates = np.linspace(lo, hi, points + 1)[1:] if points else np.array([lo])
            curve = curves[key] = _curve(setup, workload, rates, pct)
        return curve.meets(slo)

    lo, hi = setup.capacity_rps * 1e-4, setup.capacity_rps
    if not meets(lo, lo, 0)[0]:
        return 0.0
    for points in (COARSE, FINE):
        ok = meets(lo, hi, points)
        rates = np.linspace(lo, hi, points + 1)[1:]
        if ok.all():
            return float(rates[-1])
        first_bad = int(np.argmin(ok))
        lo, hi = (float(rates[first_bad - 1]) if first_bad else lo), float(rates[first_bad])
    return lo


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


def _curve(setup: _Setup, workload: Workload, rates: np.ndarray, pct: str) -> _Curve:
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
    return _Curve(np.asarray(r.saturated, dtype=bool), np.asarray(ttft), np.asarray(tpot), np.asarray(e2e))
