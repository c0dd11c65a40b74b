"""Value types of the performance model: workload, arrivals, latency statistics, predictions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.errors import InvalidInputError
from planner.types import ArrivalKind, Engine, Precision

PERCENTILES = ("p50", "p90", "p95", "p99")


@dataclass(frozen=True)
class Workload:
    """Token lengths of the requests (means and standard deviations) and the shared prompt prefix."""

    input_tokens: int
    output_tokens: int
    input_tokens_std: int = 0
    output_tokens_std: int = 0
    prefix_tokens: int = 0

    def __post_init__(self) -> None:
        if self.input_tokens < 1 or self.output_tokens < 1:
            raise InvalidInputError(
                "input and output tokens must be 1 or more, "
                f"got {self.input_tokens} and {self.output_tokens}."
            )
        if min(self.input_tokens_std, self.output_tokens_std, self.prefix_tokens) < 0:
            raise InvalidInputError("token standard deviations and prefix tokens cannot be negative.")
        if self.prefix_tokens >= self.input_tokens:
            raise InvalidInputError(
                f"prefix_tokens ({self.prefix_tokens}) must be smaller than "
                f"input_tokens ({self.input_tokens})."
            )


@dataclass(frozen=True)
class Arrival:
    """How requests arrive: at a rate (Poisson or constant), a closed loop, or as fast as served."""

    kind: ArrivalKind
    rate_rps: float | None = None
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.kind in (ArrivalKind.POISSON, ArrivalKind.CONSTANT):
            if self.rate_rps is None or not self.rate_rps > 0 or not math.isfinite(self.rate_rps):
                raise InvalidInputError(
                    f"a {self.kind.value} arrival needs a positive rate, got {self.rate_rps}."
                )
        if self.kind == ArrivalKind.CLOSED_LOOP and (self.concurrency is None or self.concurrency < 1):
            raise InvalidInputError(
                f"a closed loop needs a concurrency of 1 or more, got {self.concurrency}."
            )


def _num(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None


@dataclass(frozen=True)
class LatencyStats:
    """Mean and percentiles of one latency, ms; inf when the queue grows without bound."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float

    def at(self, percentile: str) -> float:
        """Value at "p50" | "p90" | "p95" | "p99" (or "mean")."""
        if percentile not in (*PERCENTILES, "mean"):
            raise InvalidInputError(f"unknown percentile {percentile!r}; use p50, p90, p95, p99 or mean.")
        return float(getattr(self, percentile))

    def to_json(self) -> dict[str, float | None]:
        return {k: _num(getattr(self, k)) for k in ("mean", *PERCENTILES)}

    @classmethod
    def constant(cls, value: float) -> LatencyStats:
        return cls(value, value, value, value, value)


@dataclass(frozen=True)
class Breakdown:
    """Where the mean end-to-end time of a request goes, ms."""

    prefill_ms: float
    decode_ms: float
    comm_ms: float
    overhead_ms: float
    queue_ms: float

    @property
    def total_ms(self) -> float:
        return self.prefill_ms + self.decode_ms + self.comm_ms + self.overhead_ms + self.queue_ms

    def to_json(self) -> dict[str, float | None]:
        keys = ("prefill_ms", "decode_ms", "comm_ms", "overhead_ms", "queue_ms", "total_ms")
        return {k: _num(getattr(self, k)) for k in keys}


@dataclass(frozen=True)
class Prediction:
    """Predicted latency and throughput of a deployment (all replicas) under one load."""

    ttft_ms: LatencyStats
    tpot_ms: LatencyStats
    itl_ms: LatencyStats
    e2e_ms: LatencyStats
    output_tokens_per_s: float
    total_tokens_per_s: float
    requests_per_s: float
    fits: bool
    kv_cache_tokens: int
    max_concurrency: int
    saturated: bool
    breakdown: Breakdown
    notes: tuple[str, ...]
    tensor_parallel: int
    replicas: int
    precision: Precision
    engine: Engine
    capacity_rps: float = 0.0  # highest sustainable request rate of all replicas together
    smallest_tp: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The `predict --json` document (inf latencies become null)."""
        return {
            "ttft_ms": self.ttft_ms.to_json(),
            "tpot_ms": self.tpot_ms.to_json(),
            "itl_ms": self.itl_ms.to_json(),
            "e2e_ms": self.e2e_ms.to_json(),
            "output_tokens_per_s": _num(self.output_tokens_per_s),
            "total_tokens_per_s": _num(self.total_tokens_per_s),
            "requests_per_s": _num(self.requests_per_s),
            "fits": self.fits,
            "kv_cache_tokens": self.kv_cache_tokens,
            "max_concurrency": self.max_concurrency,
            "saturated": self.saturated,
            "breakdown": self.breakdown.to_json(),
            "notes": list(self.notes),
            "tensor_parallel": self.tensor_parallel,
            "replicas": self.replicas,
            "gpus": self.tensor_parallel * self.replicas,
            "precision": self.precision.value,
            "engine": self.engine.value,
            "capacity_rps": _num(self.capacity_rps),
            "smallest_tp": self.smallest_tp,
        }


@dataclass(frozen=True)
class StepProfile:
    """The step-time formula's coefficients, as the vLLM simulator takes them (see perf_model)."""

    step_overhead_ms: float
    weights_read_ms: float
    kv_read_ms_per_1k_tokens: float
    compute_ms_per_token: float
    attn_ms_per_1m_token_pairs: float
    kv_cache_tokens: int
    max_num_seqs: int
    max_num_batched_tokens: int
    block_size: int
    eager_step_ms: float = 0.0  # launch cost of a step larger than graph_max_tokens (no CUDA graph)
    graph_max_tokens: int = 512
    window_tokens: int = 0  # sliding window of window_share of the attention layers (0: none)
    window_share: float = 0.0
    state_blocks_per_seq: int = 0  # KV blocks' worth each running sequence holds for a hybrid's state
    # GEMMs of a step of n tokens run (1 + large_step_speedup x n / (n + large_step_half_tokens))
    # times faster than at decode sizes; gemm_ms_per_token is their part of compute_ms_per_token
    gemm_ms_per_token: float = 0.0
    large_step_speedup: float = 0.0
    large_step_half_tokens: int = 1024
