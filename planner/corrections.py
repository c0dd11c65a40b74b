"""Corrections of predictions learnt from observed deployments (pure).

    record_observation(previous, observed, comparison, ...) -> the outcome with this window logged
    corrections_for(outcomes, model_id=..., gpu_id=...)      -> Corrections
    apply_corrections(value_ms, corrections, metric)         -> the corrected value

Each stored outcome gives observed/predicted ratios per metric. They are combined in log space with
shrinkage toward 1.0: the same model on the same GPU is shrunk toward what other models on the same
GPU family showed, and that in turn toward no correction. With `PRIOR_EXACT` = 3 one outcome of full
weight moves a factor a quarter of the way (in log space) to what it observed. An outcome's
weight grows with how long and how many requests it was observed (up to `FULL_WEIGHT_HOURS` and
`FULL_WEIGHT_REQUESTS`), each outcome's ratio is clipped to [1/`MAX_OUTCOME_RATIO`,
`MAX_OUTCOME_RATIO`] and the factor to [`MIN_FACTOR`, `MAX_FACTOR`], so one noisy deployment can
only move a prediction a little.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, overload

from planner.plan import Option, Predicted
from planner.types import DeploymentOutcome

if TYPE_CHECKING:
    from planner.outcomes import Comparison, ObservedMetrics

FULL_WEIGHT_HOURS = 24.0
FULL_WEIGHT_REQUESTS = 1000.0
PRIOR_EXACT = 3.0  # pseudo-outcomes of full weight pulling model×GPU toward the GPU family
PRIOR_FAMILY = 6.0  # pseudo-outcomes pulling other models on the GPU family toward no correction
MAX_OUTCOME_RATIO = 3.0
# A quantile interpolated inside a wide histogram bucket can be far off (a p95 TTFT of 1.3 s read as
# 2.3 s from the 1-2.5 s bucket was seen against the simulator), so such windows count a quarter.
COARSE_WEIGHT = 0.25
MIN_FACTOR, MAX_FACTOR = 0.5, 2.0
MAX_OBSERVATIONS = 168  # one week of hourly windows per deployment outcome
LATENCY_KEYS = ("ttft", "tpot", "e2e")  # ratios stored per observation; tpot corrects ITL/TPOT
_COLUMN_OF = {
    "ttft": ("ttft_p90_ms", "p90"),
    "tpot": ("tpot_p90_ms", "p90"),
    "e2e": ("e2e_latency_p95_ms", "p95"),
}


@dataclass(frozen=True)
class Corrections:
    """Multiplicative factors for predictions (1.0 = none) and how much evidence backs them.

    `throughput` scales capacity (max QPS per replica): decode-bound capacity goes as 1 / step time,
    so it is the inverse of the ITL factor.
    """

    ttft: float = 1.0
    itl: float = 1.0
    e2e: float = 1.0
    confidence: float = 0.0  # 0..1: evidence weight / (evidence weight + prior)
    outcomes: int = 0  # outcomes that contributed
    scope: str = "none"  # "model×GPU" | "GPU family" | "none"
    note: str = ""  # e.g. "corrected by +12% TTFT from 3 observed deployments of this model on H100-SXM"

    @property
    def throughput(self) -> float:
        return 1.0 / self.itl

    @property
    def is_identity(self) -> bool:
        return self.ttft == self.itl == self.e2e == 1.0

    def factor(self, metric: str) -> float:
        """The factor for "ttft" | "itl" | "tpot" | "e2e" | "throughput"."""
        key = "itl" if metric == "tpot" else str(metric)
        if key not in ("ttft", "itl", "e2e", "throughput"):
            raise ValueError(f"no correction for metric {metric!r}; use ttft, itl, tpot, e2e or throughput")
        value: float = getattr(self, key)
        return value


NO_CORRECTIONS = Corrections()


@overload
def apply_corrections(value_ms: float, corrections: Corrections, metric: str) -> float: ...
@overload
def apply_corrections(value_ms: None, corrections: Corrections, metric: str) -> None: ...
def apply_corrections(value_ms: float | None, corrections: Corrections, metric: str) -> float | None:
    """value × the factor for metric (None and non-finite values pass through).

    Raises:
        ValueError: metric is not ttft, itl, tpot, e2e or throughput.
    """
    if value_ms is None or not math.isfinite(value_ms):
        return value_ms
    return value_ms * corrections.factor(metric)


def correct_predicted(predicted: Predicted, corrections: Corrections) -> Predicted:
    """A prediction with latencies and max QPS corrected (unchanged when there are no corrections)."""
    if corrections.is_identity:
        return predicted

    def rounded(value: float | None, metric: str) -> float | None:
        fixed = apply_corrections(value, corrections, metric)
        return round(fixed, 2) if fixed is not None else None

    return predicted.model_copy(
        update={
            "ttft_ms": rounded(predicted.ttft_ms, "ttft"),
            "tpot_ms": rounded(predicted.tpot_ms, "tpot"),
            "e2e_ms": rounded(predicted.e2e_ms, "e2e"),
            "max_qps": round(predicted.max_qps * corrections.throughput, 3),
        }
    )


def gpu_family(gpu_id: str) -> str:
    """GPU family: "H100-SXM" and "H100-PCIe" → "H100"; "A100-80GB" → "A100"; "L40S" → "L40S"."""
    return gpu_id.split("-", 1)[0].upper()


@dataclass(frozen=True)
class _Evidence:
    weights: Mapping[str, float]  # per metric: less where the quantile came from a coarse bucket
    log_ratios: Mapping[str, float]


def outcome_weight(hours: float, requests: float) -> float:
    """0..1: grows as the square root of observed hours and requests, full at 24 h and 1,000 requests."""
    if hours <= 0 or requests <= 0:
        return 0.0
    return math.sqrt(min(1.0, hours / FULL_WEIGHT_HOURS)) * math.sqrt(
        min(1.0, requests / FULL_WEIGHT_REQUESTS)
    )


def _clip_log(ratio: float) -> float | None:
    if not (ratio > 0 and math.isfinite(ratio)):
        return None
    bound = math.log(MAX_OUTCOME_RATIO)
    return max(-bound, min(bound, math.log(ratio)))


def evidence_of(outcome: DeploymentOutcome) -> _Evidence | None:
    """Weight and clipped log ratios of one outcome; None when it carries no usable observation."""
    log = outcome.traffic_observed.get("observations")
    if isinstance(log, list) and log:
        return _from_log(log)
    return _from_columns(outcome)


def _from_log(log: Sequence[object]) -> _Evidence | None:
    hours = requests = 0.0
    sums: dict[str, float] = {}
    totals: dict[str, float] = {}
    trusted: dict[str, float] = {}  # requests, with coarse-bucket windows counted at COARSE_WEIGHT
    for entry in log:
        if not isinstance(entry, Mapping):
            continue
        n = float(entry.get("requests") or 0.0)
        hours += float(entry.get("window_s") or 0.0) / 3600.0
        requests += n
        coarse = entry.get("coarse") or ()
        for key, ratio in (entry.get("ratios") or {}).items():
            clipped = _clip_log(float(ratio)) if key in LATENCY_KEYS else None
            if clipped is not None and n > 0:
                sums[key] = sums.get(key, 0.0) + n * clipped
                totals[key] = totals.get(key, 0.0) + n
                trusted[key] = trusted.get(key, 0.0) + n * (COARSE_WEIGHT if key in coarse else 1.0)
    weight = outcome_weight(hours, requests)
    if weight == 0 or not totals:
        return None
    return _Evidence(
        {k: weight * trusted[k] / totals[k] for k in totals}, {k: sums[k] / totals[k] for k in totals}
    )


def _from_columns(outcome: DeploymentOutcome) -> _Evidence | None:
    """Outcomes recorded without an observation log: columns vs `predicted` at the same percentile."""
    p = outcome.predicted
    ratios: dict[str, float] = {}
    for key, (column, percentile) in _COLUMN_OF.items():
        observed, predicted = getattr(outcome, column), p.get(f"{key}_ms")
        if (
            p.get("percentile") == percentile
            and observed
            and isinstance(predicted, int | float)
            and predicted > 0
        ):
            clipped = _clip_log(observed / predicted)
            if clipped is not None:
                ratios[key] = clipped
    hours = outcome.observation_period_days * 24.0
    requests = (outcome.throughput_avg_rps or 0.0) * hours * 3600.0
    weight = outcome_weight(hours, requests)
    return _Evidence(dict.fromkeys(ratios, weight), ratios) if ratios and weight > 0 else None


def _shrunk(evidence: Sequence[_Evidence], key: str, *, prior: float, toward: float) -> tuple[float, float]:
    """(shrunk mean log ratio, total weight) of one metric."""
    pairs = [(e.weights[key], e.log_ratios[key]) for e in evidence if key in e.log_ratios]
    total = sum(w for w, _ in pairs)
    mean = (sum(w * x for w, x in pairs) + prior * toward) / (total + prior)
    return mean, total


def corrections_for(outcomes: Iterable[DeploymentOutcome], *, model_id: str, gpu_id: str) -> Corrections:
    """Corrections for predictions of model_id on gpu_id from stored outcomes (identity without any)."""
    family = gpu_family(gpu_id)
    exact: list[_Evidence] = []
    others: list[_Evidence] = []  # other models or GPUs of the same family
    for outcome in outcomes:
        if gpu_family(outcome.gpu_type) != family:
            continue
        ev = evidence_of(outcome)
        if ev is None:
            continue
        is_exact = outcome.model_id == model_id and outcome.gpu_type == gpu_id
        (exact if is_exact else others).append(ev)
    if not exact and not others:
        return NO_CORRECTIONS
    factors: dict[str, float] = {}
    weight = 0.0
    for key in LATENCY_KEYS:
        family_mean, family_weight = _shrunk(others, key, prior=PRIOR_FAMILY, toward=0.0)
        mean, exact_weight = _shrunk(exact, key, prior=PRIOR_EXACT, toward=family_mean)
        factors[key] = round(min(MAX_FACTOR, max(MIN_FACTOR, math.exp(mean))), 4)
        weight = max(weight, exact_weight if exact else family_weight)
    prior = PRIOR_EXACT if exact else PRIOR_FAMILY
    corrections = Corrections(
        ttft=factors["ttft"],
        itl=factors["tpot"],
        e2e=factors["e2e"],
        confidence=round(weight / (weight + prior), 3),
        outcomes=len(exact) if exact else len(others),
        scope="model×GPU" if exact else "GPU family",
    )
    return _with_note(corrections, model_id=model_id, gpu_id=gpu_id)


def _with_note(c: Corrections, *, model_id: str, gpu_id: str) -> Corrections:
    parts = [
        f"{(f - 1) * 100:+.0f}% {label}"
        for f, label in ((c.ttft, "TTFT"), (c.itl, "TPOT"), (c.e2e, "E2E"))
        if abs(f - 1) >= 0.005
    ]
    if not parts:
        return Corrections(confidence=c.confidence, outcomes=c.outcomes, scope=c.scope)
    plural = "s" if c.outcomes != 1 else ""
    where = (
        f"of this model on {gpu_id}"
        if c.scope == "model×GPU"
        else f"of models on {gpu_family(gpu_id)}-class GPUs (none yet of {model_id.rsplit('/', 1)[-1]})"
    )
    note = (
        f"corrected by {', '.join(parts)} from {c.outcomes} observed deployment{plural} {where} "
        f"(confidence {c.confidence:.2f})"
    )
    return Corrections(c.ttft, c.itl, c.e2e, c.confidence, c.outcomes, c.scope, note)


def record_observation(
    previous: DeploymentOutcome | None,
    observed: ObservedMetrics,
    comparison: Comparison,
    *,
    deployment_id: str,
    option: Option,
    at: datetime,
    plan_id: int | None = None,
    template_id: str | None = None,
) -> DeploymentOutcome:
    """The deployment's outcome with this window added: latest figures in the columns, and each
    window's observed/predicted ratios in `traffic_observed["observations"]` (what corrections read)."""
    kept = previous.traffic_observed.get("observations") if previous else None
    log: list[Any] = list(kept) if isinstance(kept, list) else []
    if observed.has_traffic:
        ratios = {
            r.metric.value: r.observed_ms / r.predicted_ms
            for r in comparison.rows
            if r.observed_ms is not None and r.predicted_ms
        }
        log.append(
            {
                "at": at.isoformat(),
                "window_s": observed.window_s,
                "requests": observed.requests,
                "ratios": ratios,
                "coarse": [r.metric.value for r in comparison.rows if r.is_coarse],
            }
        )
    log = log[-MAX_OBSERVATIONS:]
    first = previous.deployed_at if previous else at
    outcome = DeploymentOutcome(
        deployment_id=deployment_id,
        model_id=option.model_id,
        gpu_type=option.gpu_type,
        gpu_count=option.gpu_count,
        deployed_at=first,
        observation_period_days=max(0, int((at - first).total_seconds() // 86400)),
        ttft_p90_ms=observed.ttft.p90_ms,
        tpot_p90_ms=(observed.tpot if not observed.tpot.is_empty else observed.itl).p90_ms,
        e2e_latency_p95_ms=observed.e2e.p95_ms,
        throughput_avg_rps=observed.requests_per_s,
        cost_per_hour_usd=round(option.cost_per_month_usd / 730.0, 4),
        slo_compliance=comparison.compliance(),
        traffic_observed={"latest": observed.to_dict(), "observations": log},
        predicted=option.predicted.model_dump(mode="json"),
        template_id=template_id,
        plan_id=plan_id,
    )
    if previous is not None and not observed.has_traffic:
        # keep the last figures seen with traffic; only the log and the compliance move on
        return replace(previous, traffic_observed={**outcome.traffic_observed, "observations": log})
    return outcome
