"""The planning pipeline: spec → candidate models → capacity → predictions → ranked, explained options.

    plan(spec, catalog, params=..., top_k=5) -> PlanResult      (what `predeploy plan --json` prints)

Screening and sizing live in `planner.capacity`, the exact search in `planner.search`; this module
turns the result into ranked, explained options. Pure: the catalog, the performance parameters and
an optional rate cache come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from planner import perf
from planner.capacity import HEADROOM, Sized, screen
from planner.capacity_inputs import WEIGHTS_FROM_CHECKPOINT
from planner.catalog import Catalog
from planner.corrections import corrections_for
from planner.explain import explain_option, headroom_note, relax_advice, within_error_note
from planner.perf_params import expected_error
from planner.perf_setup import scheduler_limits
from planner.plan import Infeasible, Option, PlanResult, Predicted, ServingConfig
from planner.rank import Metrics, View, pareto_flags, scores, view_order, weights_for
from planner.recommend import candidate_models, context_need_tokens
from planner.search import ProgressFn, RateCache, Scored, search
from planner.spec import DeploymentSpec
from planner.types import DeploymentOutcome, Engine, Precision

# methods vLLM applies while loading 16-bit weights; int8/int4 come quantized in their checkpoint
QUANTIZATION = {Precision.FP8: "fp8"}


def serving_config(spec: DeploymentSpec, s: Sized) -> ServingConfig:
    """vLLM engine arguments for an option (the deploy renderer reads them)."""
    t = spec.traffic
    per_request = t.input_tokens_mean + t.output_tokens_mean
    # exactly the scheduler the prediction modelled: vLLM's token budget for this GPU and its
    # 16-bit KV cache (an fp8 cache would hold twice the tokens the capacity was sized with)
    _, budget = scheduler_limits(Engine.VLLM, s.gpu, perf.default_params())
    checkpoint = s.model.checkpoint(s.precision)
    return ServingConfig(
        max_model_len=min(context_need_tokens(spec), s.model.max_context_tokens),
        gpu_memory_utilization=0.9,
        max_num_seqs=int(max(8, min(256, s.kv_cache_tokens // max(per_request, 1)))),
        max_num_batched_tokens=budget,
        kv_cache_dtype="auto",
        quantization=None if checkpoint else QUANTIZATION.get(s.precision),
        checkpoint=checkpoint if checkpoint != s.model.id else None,
        trust_remote_code=s.model.details.get("trust_remote_code") is True,
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
    outcomes: Sequence[DeploymentOutcome] = (),
    progress: ProgressFn | None = None,
) -> PlanResult:
    """Ranked options that meet the spec's SLO at its peak load, infeasible combinations with reasons,
    and (when none meets it) the closest miss and what to relax.

    `precise=True` takes percentiles from the discrete-event simulation (~130 ms per option) instead
    of the closed-form tails; `cache` memoises per-replica rates across calls (what-if scenarios);
    `outcomes` (observed deployments) correct the predicted latencies of the same model and GPU family.
    `progress(done, total, label)` hears about each model as the search sizes it ("3 of 5 models",
    label "<model> on <GPU>"), at most once per model plus once at the start and the end.
    """
    params = params or perf.default_params()
    corrections = (lambda m, g: corrections_for(outcomes, model_id=m, gpu_id=g)) if outcomes else None
    candidates, rejected = candidate_models(spec, catalog)
    screened = screen(spec, catalog, candidates, params=params, engine=engine, cache=cache)
    good, misses = search(
        spec,
        screened,
        params=params,
        engine=engine,
        precise=precise,
        cache=cache,
        corrections=corrections,
        progress=progress,
    )
    misses = [s for s in screened if not s.feasible] + misses
    errors = {m: expected_error(params, key) for m, key in (("TTFT", "ttft_ms"), ("TPOT", "itl_tpot_ms"))}
    result = _rank(spec, good, top_k=top_k, view=view, errors=errors)
    accuracy = perf.accuracy_note(params)
    notes = [
        spec.traffic.derivation,
        headroom_note(),
        *([accuracy[0].upper() + accuracy[1:]] if accuracy else []),
        *spec.notes,
    ]
    extra: dict[str, Any] = {}
    if not result:
        closest, advice = relax_advice(spec, misses)
        pinned = spec.precision
        if pinned in WEIGHTS_FROM_CHECKPOINT and not any(c.model.checkpoint(pinned) for c in candidates):
            closest, advice = None, _no_checkpoint_advice(pinned)
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


def _no_checkpoint_advice(precision: Precision) -> str:
    p = precision.value
    return (
        f"none of the models considered has a checkpoint quantized to {p} (AWQ, GPTQ, W4A16 or W8A8) "
        f"in the catalog, and vLLM cannot quantize to {p} while loading: drop the precision pin or use "
        "fp8, which vLLM quantizes to at load"
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


def _drop_worse_shapes(spec: DeploymentSpec, good: list[Scored]) -> list[Scored]:
    """Drop an option when another shape of the same model and precision is no dearer, no slower and
    needs no more GPUs (e.g. 24 replicas × TP 2 beside 1 replica × TP 4 that does better)."""

    def beats(a: Scored, b: Scored) -> bool:
        ma, mb = _metrics(spec, a), _metrics(spec, b)
        no_worse = (
            ma.cost_usd_month <= mb.cost_usd_month
            and ma.latency_slo_fraction <= mb.latency_slo_fraction
            and ma.gpu_count <= mb.gpu_count
        )
        return no_worse and (ma.cost_usd_month, ma.latency_slo_fraction, ma.gpu_count) != (
            mb.cost_usd_month,
            mb.latency_slo_fraction,
            mb.gpu_count,
        )

    same = {id(x): [y for y in good if y is not x and _key(y) == _key(x)] for x in good}
    return [x for x in good if not any(beats(y, x) for y in same[id(x)])]


def _key(x: Scored) -> tuple[str, Precision]:
    return x.sized.model.id, x.sized.precision


def _rank(
    spec: DeploymentSpec,
    good: list[Scored],
    *,
    top_k: int,
    view: View,
    errors: dict[str, tuple[float, float] | None] | None = None,
) -> list[Option]:
    good = _drop_worse_shapes(spec, good)
    metrics = [_metrics(spec, x) for x in good]
    score = scores(metrics, weights_for(spec.priorities))
    pareto = pareto_flags(metrics)
    best_in = {i: [v.value for v in View if view_order(metrics, score, v)[0] == i] for i in range(len(good))}
    options = []
    pairs = [(x.sized.model.id, x.sized.gpu.id) for x in good]
    # The balanced view puts each view's winner first; a view the user asked for keeps its own order.
    picks = {i: best_in[i] if view is View.BALANCED else [] for i in best_in}
    for rank, i in enumerate(_top(view_order(metrics, score, view), picks, top_k, pairs), start=1):
        x, s = good[i], good[i].sized
        close = _within_error(spec, x, errors or {})
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
                explanation=" ".join(
                    filter(
                        None,
                        [
                            explain_option(
                                s,
                                spec,
                                ttft_ms=x.ttft_ms,
                                tpot_ms=x.tpot_ms,
                                best_in=best_in[i],
                                pareto=pareto[i],
                            ),
                            x.correction_note and f"Prediction {x.correction_note}.",
                            within_error_note(spec, close),
                        ],
                    )
                ),
                provider=s.price.provider if s.price else None,
                serving=serving_config(spec, s),
                quality=round(s.quality, 4),
                best_in=best_in[i],
                headroom=HEADROOM,
                rate_per_replica_rps=round(s.rate_per_replica_rps, 3),
                within_error=[m for m, _ in close],
                region=s.price.region if s.price else None,
            )
        )
    return options


MAX_PER_MODEL = 2  # options of one model in a short list; more would crowd out other choices


def _top(order: list[int], best_in: dict[int, list[str]], k: int, pairs: list[tuple[str, str]]) -> list[int]:
    """Up to k options: each view's winner first (in `order`'s order), then the rest, with one option
    per model × GPU and at most MAX_PER_MODEL per model, so the list shows real choices. Winners come
    first so that any prefix a front end shows (the top 3 in Slack, say) still holds the cheapest,
    the fastest and the most accurate."""
    keep = [i for i in order if best_in[i]][:k]  # a view's winner is always shown
    for i in [i for i in order if not best_in[i]]:
        same_pair = any(pairs[j] == pairs[i] for j in keep)
        same_model = sum(pairs[j][0] == pairs[i][0] for j in keep)
        if len(keep) < k and not same_pair and same_model < MAX_PER_MODEL:
            keep.append(i)
    return keep


def _within_error(
    spec: DeploymentSpec, x: Scored, errors: dict[str, tuple[float, float] | None]
) -> list[tuple[str, float]]:
    """SLO metrics whose prediction is nearer the target than the model's typical (median held-out)
    error: (metric, that error in %) for each."""
    close = []
    for metric, predicted, target in (
        ("TTFT", x.ttft_ms, spec.slo.ttft_ms),
        ("TPOT", x.tpot_ms, spec.slo.tpot_ms),
    ):
        err = errors.get(metric)
        if err and math.isfinite(predicted) and predicted > 0 and predicted * (1.0 + err[0] / 100.0) > target:
            close.append((metric, err[0]))
    return close


def _finite(x: float) -> float | None:
    return round(x, 2) if math.isfinite(x) else None
