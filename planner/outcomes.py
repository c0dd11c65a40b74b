"""Observed serving metrics of a deployment, compared with what the plan predicted (pure).

    ObservedMetrics            what Prometheus saw over a window (ms; None where there was no traffic)
    compare(observed, ...)     predicted vs observed at the SLO percentile, with SLO verdicts and deltas
    record_observation(...)    the deployment outcome with this window appended to its observation log

Corrections learnt from stored outcomes live in `planner.corrections` and are re-exported here.
Histogram quantiles are interpolated inside buckets, so each comparison row knows the bucket its
observed value fell in and says when a figure (or an SLO verdict) is only approximate.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from planner.corrections import (
    Corrections,
    apply_corrections,
    correct_predicted,
    corrections_for,
    record_observation,
)
from planner.errors import InvalidInputError
from planner.plan import Predicted
from planner.types import SloTargets

__all__ = [
    "Comparison",
    "Corrections",
    "LatencyStats",
    "Metric",
    "MetricComparison",
    "ObservedMetrics",
    "apply_corrections",
    "compare",
    "correct_predicted",
    "corrections_for",
    "parse_window_s",
    "record_observation",
    "targets_from_spec",
]

PERCENTILES = ("p50", "p90", "p95", "p99")
COARSE_BUCKET_RATIO = 2.0  # a bucket whose upper bound is >= 2x its lower one gives rough quantiles
_WINDOW_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_WINDOW_UNITS_S = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


class Metric(StrEnum):
    """A latency or rate a prediction and an observation both have."""

    TTFT = "ttft"
    ITL = "itl"  # per token (vLLM inter_token_latency)
    TPOT = "tpot"  # per request (vLLM request_time_per_output_token)
    E2E = "e2e"
    THROUGHPUT = "throughput"


LABELS = {Metric.TTFT: "TTFT", Metric.ITL: "ITL", Metric.TPOT: "TPOT", Metric.E2E: "E2E"}


def parse_window_s(window: str) -> float:
    """Seconds in a Prometheus duration such as "1h", "30m" or "1h30m".

    Raises:
        InvalidInputError: not a Prometheus duration, or zero.
    """
    match = _WINDOW_RE.fullmatch(window.strip()) if window else None
    if match is None or not any(match.groups()):
        raise InvalidInputError(
            f"window {window!r} is not a Prometheus duration; write e.g. 5m, 1h, 1h30m or 1d"
        )
    seconds = sum(int(g or 0) * unit for g, unit in zip(match.groups(), _WINDOW_UNITS_S, strict=True))
    if seconds <= 0:
        raise InvalidInputError(f"window {window!r} is empty; give at least 1m")
    return float(seconds)


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles and mean of one latency histogram, ms; None when the window had no samples."""

    p50_ms: float | None = None
    p90_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None

    def at(self, percentile: str) -> float | None:
        """The value at "p50" | "p90" | "p95" | "p99", or "mean"."""
        name = f"{percentile}_ms"
        if name not in self.__dataclass_fields__:
            raise InvalidInputError(f"unknown percentile {percentile!r}; use one of {', '.join(PERCENTILES)}")
        value: float | None = getattr(self, name)
        return value

    @property
    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


@dataclass(frozen=True)
class ObservedMetrics:
    """What a deployment did over one window, as Prometheus measured it.

    Latencies are ms; rates are per second averaged over the window; `kv_cache_usage` (0..1) and
    `queue_waiting` (requests) are peaks over the window. None means no samples (no traffic).
    `series_found` is False when Prometheus has no vLLM series at all for the selector.
    """

    model_name: str
    window: str
    window_s: float
    ttft: LatencyStats = LatencyStats()
    itl: LatencyStats = LatencyStats()
    tpot: LatencyStats = LatencyStats()
    e2e: LatencyStats = LatencyStats()
    requests_per_s: float | None = None
    output_tokens_per_s: float | None = None
    input_tokens_per_s: float | None = None
    kv_cache_usage: float | None = None
    queue_waiting: float | None = None
    series_found: bool = True
    namespace: str | None = None
    buckets_ms: Mapping[str, tuple[float, ...]] = field(default_factory=dict, compare=False)

    def latency(self, metric: Metric) -> LatencyStats:
        stats: LatencyStats = getattr(self, metric.value)
        return stats

    @property
    def has_traffic(self) -> bool:
        return bool(self.requests_per_s) or self.ttft.mean_ms is not None

    @property
    def requests(self) -> float:
        """Requests finished in the window (0 without traffic)."""
        return (self.requests_per_s or 0.0) * self.window_s

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["buckets_ms"] = {k: list(v) for k, v in self.buckets_ms.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservedMetrics:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("ttft", "itl", "tpot", "e2e"):
            values[name] = LatencyStats(**(values.get(name) or {}))
        values["buckets_ms"] = {k: tuple(v) for k, v in (values.get("buckets_ms") or {}).items()}
        return cls(**values)


@dataclass(frozen=True)
class MetricComparison:
    """One latency at the SLO percentile: predicted, observed, target (ms) and the bucket observed fell in."""

    metric: Metric
    percentile: str
    predicted_ms: float | None
    observed_ms: float | None
    target_ms: float | None
    bucket_ms: tuple[float, float | None] | None = None  # (lower, upper); upper None: above the last bound

    @property
    def label(self) -> str:
        return LABELS[self.metric]

    @property
    def delta_pct(self) -> float | None:
        """(observed − predicted) / predicted, percent."""
        if self.observed_ms is None or not self.predicted_ms:
            return None
        return (self.observed_ms - self.predicted_ms) / self.predicted_ms * 100.0

    @property
    def meets_slo(self) -> bool | None:
        if self.observed_ms is None or self.target_ms is None:
            return None
        return self.observed_ms <= self.target_ms

    @property
    def is_coarse(self) -> bool:
        """The observed quantile came from a wide bucket (or lies beyond the last finite bound)."""
        if self.bucket_ms is None:
            return False
        low, high = self.bucket_ms
        return high is None or (low > 0 and high / low >= COARSE_BUCKET_RATIO)

    @property
    def is_exact(self) -> bool:
        """False when the target lies strictly inside the bucket holding the observed value."""
        if self.bucket_ms is None or self.target_ms is None:
            return True
        low, high = self.bucket_ms
        return not (low < self.target_ms and (high is None or self.target_ms < high))


@dataclass(frozen=True)
class Comparison:
    """Predicted vs observed for one deployment and window."""

    percentile: str
    rows: tuple[MetricComparison, ...]
    predicted_rps: float | None
    observed_rps: float | None
    has_traffic: bool
    series_found: bool = True

    @property
    def slo_met(self) -> bool | None:
        """True/False when every targeted row has an observation; None otherwise."""
        verdicts = [r.meets_slo for r in self.rows if r.target_ms is not None]
        if not verdicts or any(v is None for v in verdicts):
            return None
        return all(verdicts)

    def row(self, metric: Metric) -> MetricComparison | None:
        return next((r for r in self.rows if r.metric == metric), None)

    def notes(self) -> tuple[str, ...]:
        """Why some figures are approximate (histogram buckets)."""
        out = []
        for r in self.rows:
            if r.observed_ms is None or r.bucket_ms is None:
                continue
            low, high = r.bucket_ms
            if high is None:
                out.append(
                    f"{r.percentile} {r.label} is above the highest histogram bucket ({_ms(low)}): "
                    f"it is at least that, the true value may be higher."
                )
            elif r.is_coarse or not r.is_exact:
                text = (
                    f"{r.percentile} {r.label} lies in the {_ms(low)}–{_ms(high)} histogram bucket; "
                    "Prometheus interpolates inside it, so it is approximate"
                )
                if not r.is_exact:
                    target = _ms(r.target_ms or 0)
                    text += f", and the {target} target inside that bucket cannot be checked exactly"
                out.append(text + ".")
        return tuple(out)

    def compliance(self) -> dict[str, object]:
        """The `slo_compliance` record of a deployment outcome."""
        out: dict[str, object] = {"percentile": self.percentile, "met": self.slo_met}
        for r in self.rows:
            out[r.metric.value] = {
                "target_ms": r.target_ms,
                "observed_ms": r.observed_ms,
                "predicted_ms": r.predicted_ms,
                "met": r.meets_slo,
                "exact": r.is_exact,
            }
        return out


def _ms(value: float) -> str:
    return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"


def targets_from_spec(spec: Mapping[str, Any]) -> SloTargets | None:
    """The SLO targets of a plan's spec (its `slo` block), or None when it has none."""
    slo = spec.get("slo")
    if not isinstance(slo, Mapping):
        return None
    try:
        return SloTargets(
            ttft_ms=float(slo["ttft_ms"]),
            itl_ms=float(slo["tpot_ms"]),
            e2e_ms=float(slo["e2e_ms"]),
            percentile=str(slo.get("percentile") or "p95"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def bucket_of(value_ms: float, bounds_ms: Sequence[float]) -> tuple[float, float | None] | None:
    """The (lower, upper] bucket of value among sorted finite upper bounds; upper None beyond the last."""
    if not bounds_ms:
        return None
    if value_ms >= bounds_ms[-1]:
        # histogram_quantile answers the highest finite bound when the rank falls in +Inf
        return (bounds_ms[-1], None)
    i = bisect_left(bounds_ms, value_ms)
    return (bounds_ms[i - 1] if i > 0 else 0.0, bounds_ms[i])


def compare(
    observed: ObservedMetrics, *, predicted: Predicted, targets: SloTargets | None = None
) -> Comparison:
    """Predicted vs observed TTFT, TPOT and E2E at the prediction's percentile.

    TPOT is compared with vLLM's per-request TPOT histogram, else with ITL when that is all there is.
    """
    pct = predicted.percentile if predicted.percentile in PERCENTILES else "p95"
    tpot_metric = Metric.TPOT if not observed.tpot.is_empty else Metric.ITL
    pairs = (
        (Metric.TTFT, Metric.TTFT, predicted.ttft_ms, targets.ttft_ms if targets else None),
        (Metric.TPOT, tpot_metric, predicted.tpot_ms, targets.itl_ms if targets else None),
        (Metric.E2E, Metric.E2E, predicted.e2e_ms, targets.e2e_ms if targets else None),
    )
    rows = []
    for metric, source, predicted_ms, target_ms in pairs:
        value = observed.latency(source).at(pct)
        bounds = observed.buckets_ms.get(source.value, ())
        bucket = bucket_of(value, bounds) if value is not None else None
        rows.append(MetricComparison(metric, pct, predicted_ms, value, target_ms, bucket))
    return Comparison(
        percentile=pct,
        rows=tuple(rows),
        predicted_rps=predicted.throughput_rps,
        observed_rps=observed.requests_per_s,
        has_traffic=observed.has_traffic,
        series_found=observed.series_found,
    )
