"""What a load test measured, summarised as `predeploy predict --json` reports it (pure).

Definitions (as GuideLLM): TTFT = first content chunk - request sent; ITL = every gap between
consecutive content chunks; TPOT = (e2e - TTFT) / (output tokens - 1) per request; e2e = request
sent until the stream ended. Throughputs are over the run's wall time, successful requests only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

REPORT_KEYS = (
    "ttft_ms",
    "itl_ms",
    "tpot_ms",
    "e2e_ms",
    "output_tokens_per_s",
    "requests_per_s",
    "requests",
    "errors",
)
PERCENTILE_KEYS = ("mean", "p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class RequestSample:
    """One request as the client saw it; times in seconds from the moment it was sent."""

    ok: bool
    sent_s: float  # on the run's clock, for throughput
    ttft_s: float | None = None
    e2e_s: float | None = None
    output_tokens: int = 0
    chunk_times_s: tuple[float, ...] = ()
    error: str | None = None

    @property
    def itls_s(self) -> list[float]:
        t = self.chunk_times_s
        return [t[i] - t[i - 1] for i in range(1, len(t))]

    @property
    def tpot_s(self) -> float | None:
        if self.ttft_s is None or self.e2e_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)


@dataclass(frozen=True)
class Percentiles:
    """Mean and percentiles of one latency, ms; NaN when there were no samples."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float

    def to_dict(self) -> dict[str, float | None]:
        return {
            k: (None if math.isnan(v) else round(v, 3))
            for k, v in zip(PERCENTILE_KEYS, self.as_tuple(), strict=True)
        }

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.mean, self.p50, self.p90, self.p95, self.p99)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_ms(values_s: Iterable[float]) -> Percentiles:
    """Mean, p50, p90, p95, p99 in ms of latencies given in seconds."""
    ms = sorted(v * 1000.0 for v in values_s)
    mean = sum(ms) / len(ms) if ms else math.nan
    return Percentiles(mean, *(percentile(ms, q) for q in (50, 90, 95, 99)))


@dataclass(frozen=True)
class LoadReport:
    """The result of one load-test run."""

    ttft_ms: Percentiles
    itl_ms: Percentiles
    tpot_ms: Percentiles
    e2e_ms: Percentiles
    output_tokens_per_s: float
    requests_per_s: float
    requests: int
    errors: int
    wall_s: float
    first_error: str | None = None
    # every request as measured (the summaries above come from these), for finer analysis
    samples: tuple[RequestSample, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """Exactly the keys of `predeploy predict --json` for these quantities."""
        return {
            "ttft_ms": self.ttft_ms.to_dict(),
            "itl_ms": self.itl_ms.to_dict(),
            "tpot_ms": self.tpot_ms.to_dict(),
            "e2e_ms": self.e2e_ms.to_dict(),
            "output_tokens_per_s": round(self.output_tokens_per_s, 3),
            "requests_per_s": round(self.requests_per_s, 3),
            "requests": self.requests,
            "errors": self.errors,
        }


def build_report(samples: Sequence[RequestSample], *, wall_s: float) -> LoadReport:
    """Summarise a run's samples; wall_s is from the first request sent to the last one finished."""
    ok = [s for s in samples if s.ok]
    errors = [s for s in samples if not s.ok]
    span_s = max(wall_s, 1e-9)
    tpots = [t for s in ok if (t := s.tpot_s) is not None]
    return LoadReport(
        ttft_ms=summarize_ms(s.ttft_s for s in ok if s.ttft_s is not None),
        itl_ms=summarize_ms(g for s in ok for g in s.itls_s),
        tpot_ms=summarize_ms(tpots),
        e2e_ms=summarize_ms(s.e2e_s for s in ok if s.e2e_s is not None),
        output_tokens_per_s=sum(s.output_tokens for s in ok) / span_s,
        requests_per_s=len(ok) / span_s,
        requests=len(ok),
        errors=len(errors),
        wall_s=wall_s,
        first_error=errors[0].error if errors else None,
        samples=tuple(samples),
    )
