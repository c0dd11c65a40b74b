"""The fast capacity question: the highest request rate one replica serves within an SLO."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf_model import StepCoefs, hardware_costs, step_coefs
from planner.perf_params import PerfParams
from planner.perf_setup import engine_memory_plan, load_for, max_model_len, replica_limits
from planner.perf_tail import Q, tail
from planner.perf_types import Arrival, Workload
from planner.serving import RATE, Limits, Load, capacity_rps, mean_value
from planner.types import ArrivalKind, Engine, GpuSpec, ModelSpec, Precision, SloTargets

COARSE, FINE = 24, 12  # rates probed up to capacity, then inside the bracket where the SLO first breaks


@dataclass(frozen=True)
class Replica:
    """One replica's step-time coefficients, engine limits and capacity (SLO-independent)."""

    coefs: StepCoefs
    limits: Limits
    capacity_rps: float


@dataclass(frozen=True)
class Latencies:
    """Latency percentiles of one replica at a set of Poisson request rates."""

    rates: np.ndarray
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


def replica(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine,
    workload: Workload,
    params: PerfParams,
) -> Replica | None:
    """The replica's coefficients, limits and capacity; None when the model does not fit."""
    hw = hardware_costs(model, gpu, tp=tp, precision=precision, engine=engine, params=params)
    plan = engine_memory_plan(
        model,
        gpu,
        tp=tp,
        precision=precision,
        engine=engine,
        max_model_len=max_model_len(model, workload),
        params=params,
    )
    if not plan.fits:
        return None
    coefs = step_coefs(hw, params)
    limits = replica_limits(engine, params, plan, hw, gpu)
    probe = load_for(workload, Arrival(ArrivalKind.POISSON, rate_rps=1e-6), 1)
    return Replica(coefs, limits, float(capacity_rps(coefs, probe, limits)))


def latencies_at(rep: Replica, workload: Workload, rates: np.ndarray, pct: str) -> Latencies:
    """Percentile latencies at each rate (elementwise: one call costs about the same for 1 or 300 rates)."""
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
    r = mean_value(rep.coefs, load, rep.limits)
    ttft, tpot, _, e2e = tail(
        rep.coefs,
        load,
        rep.limits,
        r,
        input_std=workload.input_tokens_std,
        output_std=workload.output_tokens_std,
        percentile=pct,
    )
    return Latencies(
        rates, np.asarray(r.saturated, dtype=bool), np.asarray(ttft), np.asarray(tpot), np.asarray(e2e)
    )


def max_rate_under_slo(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine = Engine.VLLM,
    workload: Workload,
    slo: SloTargets,
    params: PerfParams,
) -> float:
    """Requests/s one replica sustains (Poisson arrivals) with TTFT, TPOT and e2e within the SLO.

    Returns 0.0 when the model does not fit or even a lone request misses the SLO. Analytic and
    vectorised over a grid of rates (about a millisecond).
    """
    rep = replica(model, gpu, tp=tp, precision=precision, engine=engine, workload=workload, params=params)
    if rep is None:
        return 0.0
    pct = slo.percentile if slo.percentile in Q else "p95"
    capacity = rep.capacity_rps
    if not latencies_at(rep, workload, np.array([capacity * 1e-4]), pct).meets(slo)[0]:
        return 0.0
    lo, hi = capacity * 1e-4, capacity
    for points in (COARSE, FINE):
        rates = np.linspace(lo, hi, points + 1)[1:]
        ok = latencies_at(rep, workload, rates, pct).meets(slo)
        if ok.all():
            return float(rates[-1])
        first_bad = int(np.argmin(ok))
        lo, hi = (float(rates[first_bad - 1]) if first_bad else lo), float(rates[first_bad])
    return lo
