"""Ranking: a weighted score from the priorities, Pareto flags, and the named views.

Each option is reduced to four numbers (`Metrics`): monthly cost, latency as the share of the SLO it
uses, quality (0..1) and GPU count. The score is 1 − the weighted mean of the shortfalls from the
best option on each axis (0..1 each), so it lies in 0..1 and higher is better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from planner.spec import Level, Priorities

LEVEL_WEIGHT = {Level.LOW: 1.0, Level.MEDIUM: 2.0, Level.HIGH: 4.0}
# Latency counts less than cost and quality: every option shown already meets the latency SLO, so
# what is left to rank is headroom below it (the seed's llm-d-planner weighs it the same way).
LATENCY_WEIGHT = {Level.LOW: 0.5, Level.MEDIUM: 1.0, Level.HIGH: 2.5}
SIMPLICITY_WEIGHT = 0.5


class View(StrEnum):
    """Ways to order the options."""

    BALANCED = "balanced"
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    MOST_ACCURATE = "most_accurate"
    SIMPLEST = "simplest"


@dataclass(frozen=True)
class Metrics:
    """What ranking looks at for one option."""

    cost_usd_month: float
    latency_slo_fraction: float  # mean of predicted/target over TTFT and TPOT; < 1 meets them
    quality: float
    gpu_count: int


def weights_for(priorities: Priorities) -> dict[str, float]:
    """Weights of cost, latency, quality and simplicity (balanced when all are medium)."""
    return {
        "cost": LEVEL_WEIGHT[priorities.cost],
        "latency": LATENCY_WEIGHT[priorities.latency],
        "quality": LEVEL_WEIGHT[priorities.accuracy],
        "simplicity": SIMPLICITY_WEIGHT,
    }


COST_SPAN = 10.0  # an option 10× the cheapest one's cost has the full cost shortfall
QUALITY_SPAN = 0.2  # 20 benchmark points below the best: the full quality shortfall
GPU_SPAN = 16.0  # 16× the fewest GPUs: the full simplicity shortfall


def _log_ratio(value: float, best: float, span: float) -> float:
    return min(1.0, math.log(max(value, 1e-9) / max(best, 1e-9)) / math.log(span))


def scores(metrics: Sequence[Metrics], weights: dict[str, float]) -> list[float]:
    """Score of each option, 0..1, higher is better.

    Shortfalls are absolute, not stretched over the options at hand: cost and GPU count by their
    ratio to the best option (log scale), latency by the share of the SLO used beyond the fastest
    option's, quality by benchmark points below the best.
    """
    if not metrics:
        return []
    cheapest = min(m.cost_usd_month for m in metrics)
    fastest = min(m.latency_slo_fraction for m in metrics)
    best_q = max(m.quality for m in metrics)
    fewest = min(m.gpu_count for m in metrics)
    total = sum(weights.values())
    out = []
    for m in metrics:
        shortfall = {
            "cost": _log_ratio(m.cost_usd_month, cheapest, COST_SPAN),
            "latency": min(1.0, max(0.0, m.latency_slo_fraction - fastest) / max(1.0 - fastest, 1e-9)),
            "quality": min(1.0, (best_q - m.quality) / QUALITY_SPAN),
            "simplicity": _log_ratio(float(m.gpu_count), float(fewest), GPU_SPAN),
        }
        out.append(round(1.0 - sum(weights[k] * shortfall[k] for k in weights) / total, 4))
    return out


def _dominates(a: Metrics, b: Metrics) -> bool:
    no_worse = (
        a.cost_usd_month <= b.cost_usd_month
        and a.latency_slo_fraction <= b.latency_slo_fraction
        and a.quality >= b.quality
    )
    better = (
        a.cost_usd_month < b.cost_usd_month
        or a.latency_slo_fraction < b.latency_slo_fraction
        or a.quality > b.quality
    )
    return no_worse and better


def pareto_flags(metrics: Sequence[Metrics]) -> list[bool]:
    """True for options no other option beats on cost, latency and quality at once."""
    return [not any(_dominates(o, m) for o in metrics if o is not m) for m in metrics]


def view_order(metrics: Sequence[Metrics], score: Sequence[float], view: View) -> list[int]:
    """Indices of the options, best first, for one view (ties broken by score)."""
    keys = {
        View.BALANCED: lambda i: (-score[i],),
        View.CHEAPEST: lambda i: (metrics[i].cost_usd_month, -score[i]),
        View.FASTEST: lambda i: (metrics[i].latency_slo_fraction, -score[i]),
        View.MOST_ACCURATE: lambda i: (-metrics[i].quality, -score[i]),
        View.SIMPLEST: lambda i: (metrics[i].gpu_count, metrics[i].cost_usd_month),
    }
    return sorted(range(len(metrics)), key=keys[view])
