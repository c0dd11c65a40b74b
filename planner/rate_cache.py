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

from typing import Any

import numpy as np

from planner.perf_params import PerfParams
from planner.perf_slo import COARSE, FINE, Latencies, Replica, latencies_at, replica
from planner.perf_tail import Q
from planner.perf_types import Workload
from planner.types import Engine, GpuSpec, ModelSpec, Precision, SloTargets

Curves = dict[object, Any]  # "setup" -> Replica | None; percentile -> Latencies at every probe rate


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
        curves["setup"] = replica(
            model, gpu, tp=tp, precision=precision, engine=engine, workload=workload, params=params
        )
    setup: Replica | None = curves["setup"]
    if setup is None:
        return 0.0
    pct = slo.percentile if slo.percentile in Q else "p95"
    curve: Latencies = curves.get(pct) or curves.setdefault(
        pct, latencies_at(setup, workload, _probe_rates(setup.capacity_rps), pct)
    )
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
