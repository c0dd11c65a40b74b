"""The fast capacity question: the highest request rate one replica serves within an SLO."""

from __future__ import annotations

import numpy as np

from planner.memory import memory_plan
from planner.perf_model import StepCoefs, hardware_costs, step_coefs
from planner.perf_params import PerfParams
from planner.perf_setup import limits_for, load_for, max_model_len
from planner.perf_tail import Q, tail
from planner.perf_types import Arrival, Workload
from planner.serving import RATE, Limits, Load, capacity_rps, mean_value
from planner.types import ArrivalKind, Engine, GpuSpec, ModelSpec, Precision, SloTargets


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
        return 0.0
    coefs, limits = (
        step_coefs(hw, params),
        limits_for(engine, params, plan.kv_cache_tokens, is_moe=model.is_moe, top_k=model.num_experts_active),
    )
    pct = slo.percentile if slo.percentile in Q else "p95"
    probe = load_for(workload, Arrival(ArrivalKind.POISSON, rate_rps=1e-6), 1)
    capacity = float(capacity_rps(coefs, probe, limits))
    if not _meets(coefs, workload, limits, np.array([capacity * 1e-4]), slo, pct)[0]:
        return 0.0
    lo, hi = capacity * 1e-4, capacity
    for points in (24, 12):
        rates = np.linspace(lo, hi, points + 1)[1:]
        ok = _meets(coefs, workload, limits, rates, slo, pct)
        if ok.all():
            return float(rates[-1])
        first_bad = int(np.argmin(ok))
        lo, hi = (float(rates[first_bad - 1]) if first_bad else lo), float(rates[first_bad])
    return lo


def _meets(
    coefs: StepCoefs, workload: Workload, limits: Limits, rates: np.ndarray, slo: SloTargets, pct: str
) -> np.ndarray:
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
    r = mean_value(coefs, load, limits)
    ttft, tpot, _, e2e = tail(
        coefs,
        load,
        limits,
        r,
        input_std=workload.input_tokens_std,
        output_std=workload.output_tokens_std,
        percentile=pct,
    )
    ok: np.ndarray = (~r.saturated) & (ttft <= slo.ttft_ms) & (tpot <= slo.itl_ms) & (e2e <= slo.e2e_ms)
    return ok
