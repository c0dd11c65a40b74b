"""Capacity planning: for each model × GPU × precision × TP that fits, the fewest replicas that hold
the SLO at peak load, and what that costs a month.

    replicas = ceil(peak QPS / (per-replica max rate under the SLO × (1 − HEADROOM)))

Two passes keep the whole search fast. `screen()` sizes every combination with an optimistic
bound (`planner.screen`, microseconds each) that rules out what cannot work and orders the rest;
`size_exact()` then sizes the shortlisted ones with `perf.max_rate_under_slo`'s rate (queueing and
tail latency; ~1.2 ms each through `planner.rate_cache`). Combinations that cannot work are kept
with the reason. A caller's cache (what-if scenarios) keeps what does not depend on what changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from planner import perf
from planner.catalog import Catalog
from planner.perf_types import Workload
from planner.rate_cache import max_rate
from planner.recommend import Candidate, context_need_tokens
from planner.screen import Bound, Fit, GpuTerms, ModelTerms, fit, gpu_terms, model_terms
from planner.screen_batch import bounds_under
from planner.spec import DeploymentSpec
from planner.types import Engine, GpuPrice, GpuSpec, ModelSpec, Precision, SloTargets

HEADROOM = 0.2  # each replica is planned at 80% of the highest rate at which it still holds the SLO
TP_DEGREES = (1, 2, 4, 8)
PRECISIONS = (Precision.BF16, Precision.FP8, Precision.INT4)
# Quality lost to quantisation, as a fraction of 1 (published FP8 evals: within ~0.5 point; INT4 ~1-3).
QUALITY_COST = {Precision.FP8: 0.005, Precision.INT8: 0.01, Precision.INT4: 0.03}


@dataclass(frozen=True)
class Sized:
    """One model × GPU × precision × TP, sized for the spec (or the reason it cannot be)."""

    model: ModelSpec
    gpu: GpuSpec
    precision: Precision
    tp: int
    quality: float
    price: GpuPrice | None
    replicas: int = 0
    rate_per_replica_rps: float = 0.0
    exact: bool = False  # rate from max_rate_under_slo (True) or the screening bound (False)
    reason: str = ""  # empty when feasible
    kv_cache_tokens: int = 0
    floor_ttft_ms: float = 0.0  # a lone request's prefill: no load can make TTFT shorter
    floor_tpot_ms: float = 0.0  # a lone request's decode step: no load can make TPOT shorter
    likely_cost_usd: float = math.inf  # screening's realistic guess of the monthly cost (ordering only)

    @property
    def feasible(self) -> bool:
        return not self.reason

    @property
    def gpu_count(self) -> int:
        return self.tp * self.replicas

    @property
    def cost_per_month_usd(self) -> float:
        return self.gpu_count * self.price.monthly_usd_per_gpu if self.price else math.inf

    @property
    def max_qps(self) -> float:
        return self.replicas * self.rate_per_replica_rps


def workload_of(spec: DeploymentSpec) -> Workload:
    """The performance model's workload for a spec's traffic."""
    t = spec.traffic
    prefix = min(t.prefix_tokens, t.input_tokens_mean - 1)
    return Workload(
        t.input_tokens_mean, t.output_tokens_mean, t.input_tokens_std, t.output_tokens_std, prefix
    )


def slo_of(spec: DeploymentSpec) -> SloTargets:
    """The spec's SLO as the performance model takes it."""
    s = spec.slo
    return SloTargets(ttft_ms=s.ttft_ms, itl_ms=s.tpot_ms, e2e_ms=s.e2e_ms, percentile=s.percentile.value)


def gpus_for(spec: DeploymentSpec, catalog: Catalog) -> list[GpuSpec]:
    """GPU types the spec allows (only the preferred ones when any are named)."""
    return [
        g
        for g in catalog.gpus
        if g.available
        and g.id not in spec.excluded_gpu_types
        and (not spec.preferred_gpu_types or g.id in spec.preferred_gpu_types)
    ]


def cheapest_price(spec: DeploymentSpec, catalog: Catalog, gpu_id: str) -> GpuPrice | None:
    """Cheapest on-demand price of a GPU, at the spec's provider and region when pinned."""
    rows = catalog.prices_for(gpu_id, spec.provider)
    return next((p for p in rows if not spec.region or p.region == spec.region), None)


def is_precision_allowed(spec: DeploymentSpec, model: ModelSpec, gpu: GpuSpec, precision: Precision) -> bool:
    """The pinned precision, else bf16, fp8 (on GPUs with FP8 cores) and int4 when the model offers them."""
    if spec.precision:
        return precision is spec.precision
    if precision is Precision.FP8 and gpu.fp8_tflops <= 0:
        return False
    return precision is Precision.BF16 or precision in model.precisions


def replicas_for(peak_qps: float, rate_rps: float) -> int:
    """Fewest replicas that carry the peak with HEADROOM to spare (0 when the rate is 0)."""
    return max(1, math.ceil(peak_qps / (rate_rps * (1 - HEADROOM)))) if rate_rps > 0 else 0


def constraint_reason(spec: DeploymentSpec, *, replicas: int, tp: int, monthly_usd: float) -> str:
    """Why a sized combination breaks max_gpus or the budget, or ''."""
    if spec.max_gpus and replicas * tp > spec.max_gpus:
        what = f"{replicas} replica{'s' if replicas != 1 else ''} × {tp} GPU{'s' if tp != 1 else ''}"
        return f"needs {what} = {replicas * tp}, more than max_gpus={spec.max_gpus}"
    if spec.budget_usd_month and monthly_usd > spec.budget_usd_month:
        return f"costs ${monthly_usd:,.0f}/month, over the ${spec.budget_usd_month:,.0f} budget"
    return ""


def with_replicas(spec: DeploymentSpec, s: Sized, rate_rps: float, *, exact: bool, why_zero: str) -> Sized:
    """Replicas for the peak load, then the price, max_gpus and budget checks."""
    replicas = replicas_for(spec.traffic.peak_qps, rate_rps)
    if not replicas:
        why = why_zero or f"cannot hold the SLO at {spec.slo.percentile} even at low load"
        return replace(s, exact=exact, replicas=0, reason=f"{why} (TP={s.tp}, {s.precision.value})")
    s = replace(s, replicas=replicas, rate_per_replica_rps=rate_rps, exact=exact, reason="")
    if s.price is None:
        return replace(s, reason=f"no price for {s.gpu.id}")
    return replace(
        s, reason=constraint_reason(spec, replicas=replicas, tp=s.tp, monthly_usd=s.cost_per_month_usd)
    )


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
        last = fit(mt, gt, tp=tp, params=params, max_model_len=max_len)
        if last.fits:
            smallest = smallest or tp
            out.append(last)
    if not out and last is not None:
        out.append(replace(last, tp=top))
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
