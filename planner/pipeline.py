"""The planning pipeline: spec → candidate models → capacity → predictions → ranked, explained options.

    plan(spec, catalog, params=..., top_k=5) -> PlanResult      (what `predeploy plan --json` prints)

Pure: the catalog, the performance parameters and an optional rate cache come in as arguments.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from typing import Any

from planner import perf
from planner.capacity import HEADROOM, Sized, screen, size_exact, with_replicas, workload_of
from planner.catalog import Catalog
from planner.explain import explain_option, headroom_note, relax_advice
from planner.perf_types import Arrival, Prediction
from planner.plan import Infeasible, Option, PlanResult, Predicted, ServingConfig
from planner.rank import Metrics, View, pareto_flags, scores, view_order, weights_for
from planner.recommend import candidate_models, context_need_tokens
from planner.spec import DeploymentSpec
from planner.types import ArrivalKind, Engine, Precision

# Exact sizings (max_rate_under_slo, ~6 ms each) after screening: a branch-and-bound for the cheapest,
# then the most accurate and the fastest.
CHEAPEST_EVALS = 10
LIKELY_FIRST = 2
ACCURATE_EVALS = 2
FASTEST_EVALS = 2
QUANTIZATION = {Precision.FP8: "fp8", Precision.INT8: "compressed-tensors", Precision.INT4: "awq"}
RateCache = dict[tuple[object, ...], Any]  # per-replica rates and screening bounds, reused across what-ifs


@dataclass(frozen=True)
class Scored:
    """A sized combination with its prediction at the planned load."""

    sized: Sized
    prediction: Prediction
    ttft_ms: float
    tpot_ms: float
    e2e_ms: float

    def meets(self, spec: DeploymentSpec) -> bool:
        s = spec.slo
        return (
            not self.prediction.saturated
            and self.ttft_ms <= s.ttft_ms
            and self.tpot_ms <= s.tpot_ms
            and self.e2e_ms <= s.e2e_ms
        )


def cheapest_first(feasible: list[Sized]) -> list[Sized]:
    """Screened combinations in the order the branch-and-bound sizes them: cheapest bound first."""
    return sorted(feasible, key=lambda s: (s.cost_per_month_usd, -s.quality))


def others(feasible: list[Sized], taken: set[int], *, cheapest_usd: float) -> list[Sized]:
    """The most accurate combinations, then the fastest at no more than 4× the cheapest cost (by the
    screening's realistic guess), that were not sized yet."""
    pool = [s for s in feasible if id(s) not in taken]
    accurate = heapq.nsmallest(ACCURATE_EVALS, pool, key=lambda s: (-s.quality, s.likely_cost_usd))
    limit = 4 * min(cheapest_usd, min((s.likely_cost_usd for s in pool), default=math.inf))
    fast = heapq.nsmallest(
        ACCURATE_EVALS + FASTEST_EVALS,
        (s for s in pool if s.likely_cost_usd <= limit),
        key=lambda s: (s.floor_tpot_ms + s.floor_ttft_ms / 50, s.likely_cost_usd),
    )
    picked = {id(s): s for s in accurate}
    for s in fast:
        if len(picked) >= ACCURATE_EVALS + FASTEST_EVALS:
            break
        picked.setdefault(id(s), s)
    return list(picked.values())


def _predict(
    spec: DeploymentSpec, s: Sized, *, params: perf.PerfParams, engine: Engine, precise: bool
) -> Scored:
    kind = (
        spec.traffic.arrival
        if spec.traffic.arrival in (ArrivalKind.POISSON, ArrivalKind.CONSTANT)
        else (ArrivalKind.POISSON)
    )
    pred = perf.predict(
        s.model,
        s.gpu,
        tp=s.tp,
        replicas=s.replicas,
        precision=s.precision,
        engine=engine,
        workload=workload_of(spec),
        arrival=Arrival(kind, rate_rps=spec.traffic.peak_qps),
        params=params,
        percentiles=precise,
        seed=0,
    )
    pct = spec.slo.percentile.value
    return Scored(s, pred, pred.ttft_ms.at(pct), pred.tpot_ms.at(pct), pred.e2e_ms.at(pct))


def _verify(
    spec: DeploymentSpec, s: Sized, *, params: perf.PerfParams, engine: Engine, precise: bool
) -> Scored | Sized:
    """Predict at the planned load; add one replica if the tails miss; else return the miss with a reason."""
    scored = _predict(spec, s, params=params, engine=engine, precise=precise)
    if scored.meets(spec):
        return scored
    more = with_replicas(
        spec,
        replace(s, reason=""),
        s.rate_per_replica_rps * s.replicas / (s.replicas + 1),
        exact=True,
        why_zero="",
    )
    if more.feasible and more.replicas == s.replicas + 1:
        again = _predict(spec, more, params=params, engine=engine, precise=precise)
        if again.meets(spec):
            return again
    pct = spec.slo.percentile.value
    return replace(
        s,
        reason=(
            f"predicted {pct} TTFT {scored.ttft_ms:,.0f} ms / TPOT {scored.tpot_ms:.0f} ms / "
            f"e2e {scored.e2e_ms:,.0f} ms at {spec.traffic.peak_qps:g} req/s misses the SLO"
        ),
    )


def serving_config(spec: DeploymentSpec, s: Sized) -> ServingConfig:
    """vLLM engine arguments for an option (the deploy renderer reads them)."""
    t = spec.traffic
    per_request = t.input_tokens_mean + t.output_tokens_mean
    kv_fp8 = s.precision is Precision.FP8 and s.gpu.fp8_tflops > 0
    return ServingConfig(
        max_model_len=min(context_need_tokens(spec), s.model.max_context_tokens),
        gpu_memory_utilization=0.9,
        max_num_seqs=int(max(8, min(256, s.kv_cache_tokens // max(per_request, 1)))),
        max_num_batched_tokens=2048
        if spec.experience_class == "instant"
        else 16384
        if t.input_tokens_mean > 8192
        else 8192,
        kv_cache_dtype="fp8" if kv_fp8 else "auto",
        quantization=QUANTIZATION.get(s.precision),
        enable_prefix_caching=t.prefix_tokens > 0,
        enable_chunked_prefill=True,
    )


def _metrics(spec: DeploymentSpec, x: Scored) -> Metrics:
    frac = (x.ttft_ms / spec.slo.ttft_ms + x.tpot_ms / spec.slo.tpot_ms) / 2
    return Metrics(x.sized.cost_per_month_usd, frac, x.sized.quality, x.sized.gpu_count)


def _closeness(spec: DeploymentSpec, m: Sized) -> tuple[int, float]:
    """Sort key, nearest to feasible first: over a limit (by cost), over the SLO (by how far), no fit."""
    if m.replicas > 0 and m.price is not None:
        return 0, m.cost_per_month_usd
    if m.floor_tpot_ms > 0:
        return 1, max(m.floor_ttft_ms / spec.slo.ttft_ms, m.floor_tpot_ms / spec.slo.tpot_ms)
    return 2, m.model.params_total_b


def _infeasible(spec: DeploymentSpec, rejected: list[Any], misses: list[Sized]) -> list[Infeasible]:
    """One row per model × GPU (its nearest miss), nearest first; then the models filtered out."""
    rows: list[Infeasible] = []
    seen: set[tuple[str, str]] = set()
    for m in sorted(misses, key=lambda m: _closeness(spec, m)):
        key = (m.model.id, m.gpu.id)
        if key not in seen:
            seen.add(key)
            rows.append(
                Infeasible(
                    model_id=m.model.id,
                    gpu_type=m.gpu.id,
                    reason=m.reason,
                    tensor_parallel=m.tp,
                    precision=m.precision.value,
                )
            )
    return rows + [Infeasible(model_id=r.model_id, gpu_type="*", reason=r.reason) for r in rejected]


def plan(
    spec: DeploymentSpec,
    catalog: Catalog,
    *,
    params: perf.PerfParams | None = None,
    engine: Engine = Engine.VLLM,
    top_k: int = 5,
    view: View = View.BALANCED,
    precise: bool = False,
    cache: RateCache | None = None,
) -> PlanResult:
    """Ranked options that meet the spec's SLO at its peak load, infeasible combinations with reasons,
    and (when none meets it) the closest miss and what to relax.

    `precise=True` takes percentiles from the discrete-event simulation (~130 ms per option) instead
    of the closed-form tails; `cache` memoises per-replica rates across calls (what-if scenarios).
    """
    params = params or perf.default_params()
    candidates, rejected = candidate_models(spec, catalog)
    screened = screen(spec, catalog, candidates, params=params, engine=engine, cache=cache)
    feasible = [s for s in screened if s.feasible]
    good: list[Scored] = []
    misses = [s for s in screened if not s.feasible]
    taken: set[int] = set()

    def evaluate(s: Sized) -> Scored | None:
        taken.add(id(s))
        sized = size_exact(spec, s, params=params, engine=engine, cache=cache)
        v = _verify(spec, sized, params=params, engine=engine, precise=precise) if sized.feasible else sized
        if isinstance(v, Scored):
            good.append(v)
            return v
        misses.append(v)
        return None

    # Branch and bound: the screening bound never under-states a rate, so its cost never over-states
    # the exact cost; once the bound reaches the cheapest exact option found, nothing after can beat it.
    # The screening's realistic guesses go first: an early good option makes the bound cut sooner.
    best = math.inf
    guesses = heapq.nsmallest(LIKELY_FIRST, feasible, key=lambda s: (s.likely_cost_usd, -s.quality))
    for s in guesses:
        v = evaluate(s)
        best = min(best, v.sized.cost_per_month_usd) if v else best
    for s in [s for s in cheapest_first(feasible) if id(s) not in taken][: CHEAPEST_EVALS - len(guesses)]:
        if s.cost_per_month_usd >= best:
            break
        v = evaluate(s)
        best = min(best, v.sized.cost_per_month_usd) if v else best
    for s in others(feasible, taken, cheapest_usd=best):
        evaluate(s)
    if not good:  # every guess missed: size the next cheapest ones before giving up
        for s in [s for s in cheapest_first(feasible) if id(s) not in taken][:CHEAPEST_EVALS]:
            evaluate(s)
    result = _rank(spec, good, top_k=top_k, view=view)
    notes = [spec.traffic.derivation, headroom_note(), *spec.notes]
    extra: dict[str, Any] = {}
    if not result:
        closest, advice = relax_advice(spec, misses)
        notes.append(f"No option meets the SLO; {advice}.")
        extra = {"closest": _closest_json(closest), "relax": advice}
    return PlanResult(
        spec=spec.model_dump(mode="json"),
        options=result,
        infeasible=_infeasible(spec, rejected, misses),
        questions=list(spec.questions),
        notes=notes,
        view=view.value,
        **extra,
    )


def _closest_json(s: Sized | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "model_id": s.model.id,
        "gpu_type": s.gpu.id,
        "tensor_parallel": s.tp,
        "replicas": s.replicas,
        "precision": s.precision.value,
        "reason": s.reason,
    }


def _rank(spec: DeploymentSpec, good: list[Scored], *, top_k: int, view: View) -> list[Option]:
    metrics = [_metrics(spec, x) for x in good]
    score = scores(metrics, weights_for(spec.priorities))
    pareto = pareto_flags(metrics)
    best_in = {i: [v.value for v in View if view_order(metrics, score, v)[0] == i] for i in range(len(good))}
    options = []
    for rank, i in enumerate(_top(view_order(metrics, score, view), best_in, top_k), start=1):
        x, s = good[i], good[i].sized
        options.append(
            Option(
                rank=rank,
                model_id=s.model.id,
                gpu_type=s.gpu.id,
                gpu_count=s.gpu_count,
                tensor_parallel=s.tp,
                replicas=s.replicas,
                precision=s.precision.value,
                predicted=Predicted(
                    ttft_ms=_finite(x.ttft_ms),
                    tpot_ms=_finite(x.tpot_ms),
                    e2e_ms=_finite(x.e2e_ms),
                    throughput_rps=round(x.prediction.requests_per_s, 3),
                    max_qps=round(s.max_qps, 3),
                    percentile=spec.slo.percentile.value,
                ),
                cost_per_month_usd=round(s.cost_per_month_usd, 2),
                meets_slo=True,
                pareto=pareto[i],
                score=score[i],
                explanation=explain_option(
                    s, spec, ttft_ms=x.ttft_ms, tpot_ms=x.tpot_ms, best_in=best_in[i], pareto=pareto[i]
                ),
                provider=s.price.provider if s.price else None,
                serving=serving_config(spec, s),
                quality=round(s.quality, 4),
                best_in=best_in[i],
                headroom=HEADROOM,
                rate_per_replica_rps=round(s.rate_per_replica_rps, 3),
                region=s.price.region if s.price else None,
            )
        )
    return options


def _top(order: list[int], best_in: dict[int, list[str]], k: int) -> list[int]:
    """The first k of `order`, making room for every view's winner (kept in `order`'s order)."""
    winners = [i for i in order if best_in[i]][:k]
    rest = [i for i in order if not best_in[i]][: k - len(winners)]
    keep = set(winners + rest)
    return [i for i in order if i in keep]


def _finite(x: float) -> float | None:
    return round(x, 2) if math.isfinite(x) else None
