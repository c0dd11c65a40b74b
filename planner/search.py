"""The exact phase of the capacity search: which screened combinations to size with the performance
model, sizing them, and checking each at its planned load.

    search(spec, screened, params=..., engine=..., precise=..., cache=...) -> (good, misses)

Sizings (`perf.max_rate_under_slo`'s rate, ~1.2 ms each through `planner.rate_cache`) are spent
on: the screening's two best guesses, a branch-and-bound for the cheapest option (the screening
bound never under-states a rate, so its cost never over-states the exact cost: once it reaches the
cheapest option found, nothing after it can be cheaper), then the most accurate and the fastest
combinations, then a few along the cost/quality frontier between the cheapest and the most accurate
(so that a plan shows a middle option, not only the two ends).

With a `cache` (what-if scenarios share one), rates, the latency curves behind them and the
predictions at a load are kept: none depends on the budget or GPU limits, and only the rates depend
on the SLO, so a what-if redoes just what its change touches.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from planner import perf
from planner.capacity import Sized, size_exact, with_replicas, workload_of
from planner.corrections import NO_CORRECTIONS, Corrections, apply_corrections
from planner.explain import LOW_LOAD_MISS
from planner.perf_types import Arrival, Prediction, Workload
from planner.spec import DeploymentSpec
from planner.types import ArrivalKind, Engine

CHEAPEST_EVALS = 14
LIKELY_FIRST = 2
ACCURATE_EVALS = 2
FASTEST_EVALS = 2
BALANCED_EVALS = 3  # combinations sized along the cost/quality frontier between cheapest and most accurate
CorrectionsFn = Callable[[str, str], Corrections]  # (model id, GPU id) -> corrections from outcomes
ProgressFn = Callable[[int, int, str], None]  # (models done, models in all, "<model> on <GPU>")
RateCache = dict[tuple[object, ...], Any]  # per-replica rates and screening bounds, reused across what-ifs


@dataclass(frozen=True)
class Scored:
    """A sized combination with its prediction at the planned load."""

    sized: Sized
    prediction: Prediction
    ttft_ms: float
    tpot_ms: float
    e2e_ms: float
    correction_note: str = ""  # how observed outcomes changed the predicted latencies, if they did

    def meets(self, spec: DeploymentSpec) -> bool:
        s = spec.slo
        return (
            not self.prediction.saturated
            and self.ttft_ms <= s.ttft_ms
            and self.tpot_ms <= s.tpot_ms
            and self.e2e_ms <= s.e2e_ms
        )


def cheapest_first(feasible: list[Sized]) -> list[Sized]:
    """Screened combinations in the order the branch-and-bound sizes them: cheapest bound first; among
    equal bounds (one GPU of a type, whatever the model), the cheapest realistic guess first."""
    return sorted(feasible, key=lambda s: (s.cost_per_month_usd, s.likely_cost_usd, -s.quality))


def balanced(
    feasible: list[Sized], taken: set[int], *, cheapest_usd: float, floor_quality: float, found: set[str]
) -> list[Sized]:
    """Middle options between the cheapest and the most accurate: each model not yet among the options
    (`found`), at its cheapest combination by the screening's cost bound, within 4x the cheapest
    option's cost and more accurate than it; then those no other beats on both cost and quality (the
    cost/quality frontier); up to BALANCED_EVALS of them, spread along it."""
    limit = 4 * cheapest_usd if math.isfinite(cheapest_usd) else math.inf
    per_model: dict[str, Sized] = {}
    for s in sorted(feasible, key=lambda s: (s.cost_per_month_usd, -s.quality)):
        fresh = id(s) not in taken and s.model.id not in found
        if fresh and s.cost_per_month_usd <= limit and s.quality > floor_quality:
            per_model.setdefault(s.model.id, s)
    frontier: list[Sized] = []
    for s in sorted(per_model.values(), key=lambda s: (s.cost_per_month_usd, -s.quality)):
        if not frontier or s.quality > frontier[-1].quality:
            frontier.append(s)
    if len(frontier) <= BALANCED_EVALS:
        return frontier
    step = (len(frontier) - 1) / (BALANCED_EVALS - 1)
    return [frontier[round(i * step)] for i in range(BALANCED_EVALS)]


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
    s: Sized,
    *,
    replicas: int,
    arrival: Arrival,
    workload: Workload,
    params: perf.PerfParams,
    engine: Engine,
    precise: bool,
    cache: RateCache | None,
) -> Prediction:
    """`perf.predict` of a combination, memoised in `cache`: the prediction does not depend on the SLO,
    budget or GPU limits, so what-ifs on those reuse it."""
    key = ("predict", s.model.id, s.gpu.id, s.tp, replicas, s.precision, engine, workload, arrival, precise)
    pred: Prediction | None = cache.get(key) if cache is not None else None
    if pred is None:
        pred = perf.predict(
            s.model,
            s.gpu,
            tp=s.tp,
            replicas=replicas,
            precision=s.precision,
            engine=engine,
            workload=workload,
            arrival=arrival,
            params=params,
            percentiles=precise,
            seed=0,
        )
        if cache is not None:
            cache[key] = pred
    return pred


def predict_at_peak(
    spec: DeploymentSpec,
    s: Sized,
    *,
    params: perf.PerfParams,
    engine: Engine,
    precise: bool,
    corrections: CorrectionsFn | None = None,
    cache: RateCache | None = None,
) -> Scored:
    kind = (
        spec.traffic.arrival
        if spec.traffic.arrival in (ArrivalKind.POISSON, ArrivalKind.CONSTANT)
        else (ArrivalKind.POISSON)
    )
    pred = _predict(
        s,
        replicas=s.replicas,
        arrival=Arrival(kind, rate_rps=spec.traffic.peak_qps),
        workload=workload_of(spec),
        params=params,
        engine=engine,
        precise=precise,
        cache=cache,
    )
    pct = spec.slo.percentile.value
    c = corrections(s.model.id, s.gpu.id) if corrections else NO_CORRECTIONS
    return Scored(
        s,
        pred,
        apply_corrections(pred.ttft_ms.at(pct), c, "ttft"),
        apply_corrections(pred.tpot_ms.at(pct), c, "tpot"),
        apply_corrections(pred.e2e_ms.at(pct), c, "e2e"),
        correction_note=c.note,
    )


def verify(
    spec: DeploymentSpec,
    s: Sized,
    *,
    params: perf.PerfParams,
    engine: Engine,
    precise: bool,
    corrections: CorrectionsFn | None = None,
    cache: RateCache | None = None,
) -> Scored | Sized:
    """Predict at the planned load; add one replica if the tails miss; else return the miss with a reason."""

    def at_peak(x: Sized) -> Scored:
        return predict_at_peak(
            spec, x, params=params, engine=engine, precise=precise, corrections=corrections, cache=cache
        )

    scored = at_peak(s)
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
        again = at_peak(more)
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


def explain_zero_rate(
    spec: DeploymentSpec,
    s: Sized,
    *,
    params: perf.PerfParams,
    engine: Engine,
    cache: RateCache | None = None,
) -> Sized:
    """A combination that misses the SLO even at low load, with the latencies it has there."""
    lone = replace(s, replicas=1, reason="")
    pred = _predict(
        lone,
        replicas=1,
        arrival=Arrival(ArrivalKind.POISSON, rate_rps=0.01),
        workload=workload_of(spec),
        params=params,
        engine=engine,
        precise=False,
        cache=cache,
    )
    slo, pct = spec.slo, spec.slo.percentile.value
    got = {
        "TTFT": (pred.ttft_ms.at(pct), slo.ttft_ms),
        "TPOT": (pred.tpot_ms.at(pct), slo.tpot_ms),
        "e2e": (pred.e2e_ms.at(pct), slo.e2e_ms),
    }
    over = [f"{k} {v:,.0f} ms > {t:,.0f}" for k, (v, t) in got.items() if v > t]
    detail = "; ".join(over) if over else "its tails reach the targets before any load"
    return replace(
        lone,
        replicas=0,
        reason=f"{LOW_LOAD_MISS} the {pct} {detail} (TP={s.tp}, {s.precision.value})",
        # what it takes at low load, overheads and tails included (the screening floors leave them
        # out): what to relax the SLO to is read from these
        floor_ttft_ms=max(s.floor_ttft_ms, got["TTFT"][0]),
        floor_tpot_ms=max(s.floor_tpot_ms, got["TPOT"][0]),
    )


def search(
    spec: DeploymentSpec,
    screened: list[Sized],
    *,
    params: perf.PerfParams,
    engine: Engine = Engine.VLLM,
    precise: bool = False,
    cache: RateCache | None = None,
    corrections: CorrectionsFn | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[Scored], list[Sized]]:
    """Size the promising combinations exactly: (options that meet the SLO, the sized ones that miss,
    with their reasons).

    `progress(done, total, label)` hears about each model as its first combination is sized (total:
    the models with a combination that passed screening), then `(total, total, ...)` at the end: the
    models never sized were ruled out by the cost bound."""
    feasible = [s for s in screened if s.feasible]
    good: list[Scored] = []
    misses: list[Sized] = []
    taken: set[int] = set()
    tracker = _ModelProgress(progress, feasible)

    def evaluate(s: Sized) -> Scored | None:
        taken.add(id(s))
        tracker.sizing(s)
        sized = size_exact(spec, s, params=params, engine=engine, cache=cache)
        if sized.feasible:
            v: Scored | Sized = verify(
                spec,
                sized,
                params=params,
                engine=engine,
                precise=precise,
                corrections=corrections,
                cache=cache,
            )
        elif sized.replicas == 0:
            v = explain_zero_rate(spec, sized, params=params, engine=engine, cache=cache)
        else:
            v = sized
        if isinstance(v, Scored):
            good.append(v)
            return v
        misses.append(v)
        return None

    # The screening's best guesses first (an early good option makes the bound cut sooner), then the
    # branch-and-bound in order of the bound's cost.
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
    cheapest = min(good, key=lambda g: g.sized.cost_per_month_usd, default=None)
    floor = cheapest.sized.quality if cheapest else 0.0
    found = {g.sized.model.id for g in good}
    for s in balanced(feasible, taken, cheapest_usd=best, floor_quality=floor, found=found):
        evaluate(s)
    if not good:  # every guess missed: size the next cheapest ones before giving up
        for s in [s for s in cheapest_first(feasible) if id(s) not in taken][:CHEAPEST_EVALS]:
            evaluate(s)
    tracker.done(len(good))
    return good, misses


class _ModelProgress:
    """Calls the progress callback once per newly sized model (a few dozen calls at most), then once
    at the end; the caller throttles its own updates (e.g. one Slack edit per 0.5 s)."""

    def __init__(self, progress: ProgressFn | None, feasible: list[Sized]) -> None:
        self._progress = progress
        self._total = len({s.model.id for s in feasible})
        self._seen: set[str] = set()
        if progress is not None and self._total:  # with nothing to size, only the end is reported
            progress(0, self._total, f"{len(feasible)} combinations passed screening")

    def sizing(self, s: Sized) -> None:
        if self._progress is None or s.model.id in self._seen:
            return
        self._seen.add(s.model.id)
        label = f"{s.model.id.rsplit('/', 1)[-1]} on {s.gpu.id}"
        self._progress(min(len(self._seen), self._total), self._total, label)

    def done(self, good: int) -> None:
        if self._progress is not None:
            self._progress(self._total, self._total, f"{good} combinations meet the SLO")
