"""Capacity planning: for each model × GPU × precision × TP that fits, the fewest replicas that hold
the SLO at peak load, and what that costs a month.

    replicas = ceil(peak QPS / (per-replica max rate under the SLO × (1 − HEADROOM)))

Two passes keep the whole search fast. `screen()` sizes every combination with an optimistic
bound (`planner.screen`, microseconds each) that rules out what cannot work and orders the rest;
`size_exact()` then sizes the shortlisted ones with `perf.max_rate_under_slo`'s rate (queueing and
tail latency; ~1.2 ms each through `planner.rate_cache`). Combinations that cannot work are kept
with the reason. A caller's cache (what-if scenarios) keeps what does not depend on what changed.

The row (`Sized`) and its replica, price and limit arithmetic are in `planner.capacity_cost`, what
is read from the spec in `planner.capacity_inputs`; both are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from planner import perf
from planner.capacity_cost import (
    HEADROOM,
    QUALITY_COST,
    Sized,
    cheapest_price,
    constraint_reason,
    replicas_for,
    with_replicas,
)
from planner.capacity_inputs import gpus_for, is_precision_allowed, slo_of, workload_of
from planner.catalog import Catalog
from planner.memory import tp_problem
from planner.perf_types import Workload
from planner.rate_cache import max_rate
from planner.recommend import Candidate, context_need_tokens
from planner.screen import Bound, Fit, GpuTerms, ModelTerms, fit, gpu_terms, model_terms
from planner.screen_batch import bounds_under
from planner.spec import DeploymentSpec
from planner.types import Engine, GpuPrice, GpuSpec, ModelSpec, Precision, SloTargets

TP_DEGREES = (1, 2, 4, 8)
PRECISIONS = (Precision.BF16, Precision.FP8, Precision.INT4)
__all__ = [  # the sizing arithmetic and the spec's inputs are re-exported: callers import them from here
    "HEADROOM",
    "PRECISIONS",
    "QUALITY_COST",
    "TP_DEGREES",
    "Sized",
    "cheapest_price",
    "constraint_reason",
    "gpus_for",
    "is_precision_allowed",
    "replicas_for",
    "screen",
    "size_exact",
    "slo_of",
    "with_replicas",
    "workload_of",
]


def screen(
    spec: DeploymentSpec,
    catalog: Catalog,
    candidates: list[Candidate],
    *,
    params: perf.PerfParams,
    engine: Engine = Engine.VLLM,
    cache: dict[tuple[object, ...], Any] | None = None,
) -> list[Sized]:
    """Every candidate × priced GPU × precision × TP (from the smallest that fits up to 4× it),
    sized with the screening bound (`planner.screen`). GPUs without a price get one row each.

    `cache` (the caller's, shared with `size_exact`) keeps the memory and step-time terms, which
    depend on the workload only, and the bounds, which depend on the workload and SLO but not on the
    load, budget or GPU limits: a what-if on those only redoes the replica arithmetic, and one on the
    SLO the bounds (vectorised, `planner.screen_batch`)."""
    workload, slo, need = workload_of(spec), slo_of(spec), context_need_tokens(spec)
    out, gpus = _priced_gpus(spec, catalog, candidates)
    fits_of = _part(cache, ("fits", engine))  # by (model, GPU, precision, context length)
    bounds_of = _part(cache, ("bounds", engine, workload, slo))
    gterms: dict[tuple[str, Precision], GpuTerms] = {}
    combos: list[tuple[Candidate, tuple[str, str, Precision, int], GpuSpec, GpuPrice]] = []
    for cand in candidates:
        max_len = min(need, cand.model.max_context_tokens)
        for precision in (spec.precision,) if spec.precision else tuple(PRECISIONS):
            mt: ModelTerms | None = None
            for gpu, price in gpus:
                if not is_precision_allowed(spec, cand.model, gpu, precision):
                    continue
                key = (cand.model.id, gpu.id, precision, max_len)
                if key not in fits_of:
                    mt = mt or model_terms(cand.model, precision, params=params, engine=engine)
                    gt = gterms.get((gpu.id, precision)) or gpu_terms(
                        gpu, precision, params=params, engine=engine
                    )
                    gterms[(gpu.id, precision)] = gt
                    fits_of[key] = _fits(mt, gt, max_len, params)
                combos.append((cand, key, gpu, price))
        if cache is None:  # one model at a time: uncached fits and bounds then die young (less GC work)
            out += _rows(spec, combos, fits_of, bounds_of, workload, slo)
            combos, fits_of, bounds_of = [], {}, {}
    return out + _rows(spec, combos, fits_of, bounds_of, workload, slo)


def _rows(
    spec: DeploymentSpec,
    combos: list[tuple[Candidate, tuple[str, str, Precision, int], GpuSpec, GpuPrice]],
    fits_of: dict[Any, tuple[Fit, ...]],
    bounds_of: dict[Any, tuple[Bound, ...]],
    workload: Workload,
    slo: SloTargets,
) -> list[Sized]:
    """The screened rows of these combinations (bounds filled in one vectorised pass first)."""
    _fill_bounds(bounds_of, fits_of, [c[1] for c in combos], workload, slo)
    out: list[Sized] = []
    for cand, key, gpu, price in combos:
        out += _sized_rows(
            spec,
            fits_of[key],
            bounds_of[key],
            model=cand.model,
            gpu=gpu,
            precision=key[2],
            price=price,
            quality=max(0.0, cand.quality - QUALITY_COST.get(key[2], 0.0)),
        )
    return out


def _part(cache: dict[tuple[object, ...], Any] | None, key: tuple[object, ...]) -> dict[Any, Any]:
    """One part of the caller's cache (a fresh dict without one): the inner keys skip re-hashing the
    workload and SLO for each of thousands of combinations."""
    return cache.setdefault(key, {}) if cache is not None else {}


def _priced_gpus(
    spec: DeploymentSpec, catalog: Catalog, candidates: list[Candidate]
) -> tuple[list[Sized], list[tuple[GpuSpec, GpuPrice]]]:
    """(one row per allowed GPU without a price, the allowed GPUs with their cheapest price)."""
    rows: list[Sized] = []
    gpus: list[tuple[GpuSpec, GpuPrice]] = []
    for gpu in gpus_for(spec, catalog):
        price = cheapest_price(spec, catalog, gpu.id)
        if price is not None:
            gpus.append((gpu, price))
        elif candidates:
            where = "".join(f" {w} {v}" for w, v in (("at", spec.provider), ("in", spec.region)) if v)
            reason = f"no price for {gpu.id}{where}"
            rows.append(Sized(candidates[0].model, gpu, Precision.BF16, 1, 0.0, None, reason=reason))
    return rows, gpus


def _fits(mt: ModelTerms, gt: GpuTerms, max_len: int, params: perf.PerfParams) -> tuple[Fit, ...]:
    """Fits at each TP from the smallest that fits up to 4× it; the top TP's (not fitting) if none fits.
    Independent of the SLO and the load: what-ifs on them reuse these."""
    top = min(gt.gpu.max_tensor_parallel, gt.gpu.gpus_per_node)
    out: list[Fit] = []
    last: Fit | None = None
    smallest = 0
    for tp in TP_DEGREES:
        if tp > top or (smallest and tp > 4 * smallest):
            break
        if tp_problem(mt.model, tp):  # the engines cannot split its heads over tp GPUs
            continue
        last = fit(mt, gt, tp=tp, params=params, max_model_len=max_len)
        if last.fits:
            smallest = smallest or tp
            out.append(last)
    if not out and last is not None:
        out.append(replace(last, tp=top) if not tp_problem(mt.model, top) else last)
    return tuple(out)


def _fill_bounds(
    bounds_of: dict[Any, tuple[Bound, ...]],
    fits_of: dict[Any, tuple[Fit, ...]],
    keys: list[Any],
    workload: Workload,
    slo: SloTargets,
) -> None:
    """Bounds under the SLO (one per fit) of every combination that lacks them, in one vectorised pass."""
    todo = [k for k in keys if k not in bounds_of]
    bounds = bounds_under([f for k in todo for f in fits_of[k]], workload=workload, slo=slo)
    start = 0
    for k in todo:
        end = start + len(fits_of[k])
        bounds_of[k] = tuple(bounds[start:end])
        start = end


def _sized_rows(
    spec: DeploymentSpec,
    fits: tuple[Fit, ...],
    bounds: tuple[Bound, ...],
    *,
    model: ModelSpec,
    gpu: GpuSpec,
    precision: Precision,
    price: GpuPrice,
    quality: float,
) -> list[Sized]:
    """The screened rows of one model × GPU × precision: replicas for the peak and the limits' reasons."""
    peak, per_gpu = spec.traffic.peak_qps, price.monthly_usd_per_gpu
    rows: list[Sized] = []
    for tp, b in zip((f.tp for f in fits), bounds, strict=True):
        if not b.fits:
            reason = f"does not fit on up to {tp} × {gpu.id} at {precision.value}: {b.why}"
            rows.append(Sized(model, gpu, precision, tp, quality, price, reason=reason))
            continue
        replicas = replicas_for(peak, b.rate_rps)
        if replicas:
            reason = constraint_reason(spec, replicas=replicas, tp=tp, monthly_usd=replicas * tp * per_gpu)
        else:
            reason = f"{b.why} (TP={tp}, {precision.value})"
        likely = replicas_for(peak, b.likely_rate_rps) * tp * per_gpu
        rows.append(
            Sized(
                model,
                gpu,
                precision,
                tp,
                quality,
                price,
                replicas,
                b.rate_rps,
                False,
                reason,
                b.kv_cache_tokens,
                b.floor_ttft_ms,
                b.floor_tpot_ms,
                likely or math.inf,
            )
        )
    return rows


def size_exact(
    spec: DeploymentSpec,
    s: Sized,
    *,
    params: perf.PerfParams,
    engine: Engine = Engine.VLLM,
    cache: dict[tuple[object, ...], Any] | None = None,
) -> Sized:
    """Re-size one screened combination with the performance model's SLO-bounded rate
    (`perf.max_rate_under_slo`'s figure, found by `planner.rate_cache` in a third of the time).

    `cache` (owned by the caller, e.g. across what-if scenarios) memoises rates by combination,
    workload and SLO, and the latency curves behind them by combination and workload
    (`planner.rate_cache`): a what-if on the SLO only compares them with the new targets.
    """
    workload, slo = workload_of(spec), slo_of(spec)
    combo = (s.model.id, s.gpu.id, s.tp, s.precision, engine, workload)
    key = (*combo, slo)
    rate: float | None = cache.get(key) if cache is not None else None
    if rate is None:
        curves = cache.setdefault(("curves", *combo), {}) if cache is not None else {}
        rate = max_rate(
            s.model,
            s.gpu,
            tp=s.tp,
            precision=s.precision,
            engine=engine,
            workload=workload,
            slo=slo,
            params=params,
            curves=curves,
        )
        if cache is not None:
            cache[key] = rate
    fresh = replace(s, reason="", replicas=0, rate_per_replica_rps=0.0)
    return with_replicas(spec, fresh, rate, exact=True, why_zero="")
