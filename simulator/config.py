"""Configuration of the simulator: the latency profile, the server and its injected faults.

The step-time formula (implemented in `latency.py`, mirrored by `planner/perf.py` on the planner side):

    step_ms = step_overhead_ms + hypot(memory_ms, compute_ms)
    memory_ms  = weights_read_ms + kv_read_ms_per_1k_tokens * kv_tokens_read / 1000
    compute_ms = compute_ms_per_token * batched_tokens + attn_ms_per_1m_token_pairs * token_pairs / 1e6
                 - gemm_ms_per_token * batched_tokens * (1 - 1 / speedup)
    speedup    = 1 + large_step_speedup * batched_tokens / (batched_tokens + large_step_half_tokens)

with the sliding-window layers' reads and pairs capped at window_tokens per query token (GEMMs run
faster in large steps, fp8/fp4 ones most).
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from simulator.errors import ProfileError


def _help(text: str) -> Any:
    return field(metadata={"help": text})


@dataclass(frozen=True)
class LatencyProfile:
    """What one continuous-batching step costs and how much the engine can hold."""

    step_overhead_ms: float = _help("fixed cost of every step (scheduling, kernel launches, sampling), ms")
    weights_read_ms: float = _help("time to stream all weights from HBM once per step, ms")
    kv_read_ms_per_1k_tokens: float = _help("time to read the KV cache of 1,000 context tokens, ms")
    compute_ms_per_token: float = _help("compute time (GEMMs) per token in the step's batch, ms")
    attn_ms_per_1m_token_pairs: float = _help("attention compute per 1e6 (query, key) token pairs, ms")
    kv_cache_tokens: int = _help("KV-cache capacity in tokens (all blocks together)")
    max_num_seqs: int = _help("most sequences in one step (vLLM --max-num-seqs)")
    max_num_batched_tokens: int = _help("most tokens in one step (vLLM --max-num-batched-tokens)")
    block_size: int = _help("tokens per KV-cache block (vLLM --block-size)")
    eager_step_ms: float = field(
        default=0.0,
        metadata={"help": "extra launch cost of a step too large for the captured CUDA graphs, ms"},
    )
    graph_max_tokens: int = field(
        default=512, metadata={"help": "largest step (tokens) replayed from CUDA graphs; larger run eager"}
    )
    window_tokens: int = field(
        default=0,
        metadata={"help": "sliding window (tokens) of window_share of the attention layers; 0: none"},
    )
    window_share: float = field(
        default=0.0, metadata={"help": "share of the attention layers that only see the last window_tokens"}
    )
    state_blocks_per_seq: int = field(
        default=0,
        metadata={"help": "KV blocks' worth each running sequence holds for a hybrid's fixed state"},
    )
    gemm_ms_per_token: float = field(
        default=0.0,
        metadata={"help": "the GEMMs' part of compute_ms_per_token, the part large steps speed up"},
    )
    large_step_speedup: float = field(
        default=0.0,
        metadata={"help": "GEMMs of a large step run up to 1 + this times faster (0: no change)"},
    )
    large_step_half_tokens: int = field(
        default=1024, metadata={"help": "step tokens at which the GEMMs reach half of large_step_speedup"}
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ProfileError(f"profile field {f.name} must be a finite number, got {value!r}")
            if f.type == "int" and value != int(value):
                raise ProfileError(f"profile field {f.name} must be a whole number, got {value!r}")
            if value < 0:
                raise ProfileError(f"profile field {f.name} must be >= 0, got {value!r}")
        if self.gemm_ms_per_token > self.compute_ms_per_token:
            raise ProfileError(
                f"profile field gemm_ms_per_token ({self.gemm_ms_per_token!r}) cannot exceed"
                f" compute_ms_per_token ({self.compute_ms_per_token!r})"
            )
        if self.window_share > 1.0:
            raise ProfileError(f"profile field window_share must be <= 1, got {self.window_share!r}")
        for name in (
            "kv_cache_tokens",
            "max_num_seqs",
            "max_num_batched_tokens",
            "block_size",
            "large_step_half_tokens",
        ):
            if getattr(self, name) < 1:
                raise ProfileError(f"profile field {name} must be >= 1, got {getattr(self, name)!r}")
        if self.kv_cache_tokens < self.block_size:
            raise ProfileError(
                f"kv_cache_tokens ({self.kv_cache_tokens}) is smaller than one block ({self.block_size});"
                " raise kv_cache_tokens"
            )

    @property
    def num_blocks(self) -> int:
        """KV-cache blocks available (whole blocks only)."""
        return self.kv_cache_tokens // self.block_size

    @property
    def usable_kv_tokens(self) -> int:
        """KV-cache capacity in tokens, whole blocks only."""
        return self.num_blocks * self.block_size

    def to_dict(self) -> dict[str, float | int]:
        """The profile as a JSON-ready dict (the `--profile` file format)."""
        return asdict(self)


PROFILE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(LatencyProfile))
_INT_FIELDS = frozenset(f.name for f in fields(LatencyProfile) if f.type == "int")
_OPTIONAL_FIELDS = frozenset(f.name for f in fields(LatencyProfile) if f.default is not MISSING)

# Roughly Llama-3.1-8B bf16 on one H100 80GB (PERF_FACTS: 16 GB of weights at ~3.35 TB/s, 128 KiB of
# KV per token); used when no profile is given.
DEFAULT_PROFILE = LatencyProfile(
    step_overhead_ms=2.0,
    weights_read_ms=6.0,
    kv_read_ms_per_1k_tokens=0.05,
    compute_ms_per_token=0.04,
    attn_ms_per_1m_token_pairs=0.5,
    kv_cache_tokens=450_000,
    max_num_seqs=256,
    max_num_batched_tokens=8192,
    block_size=16,
)


def profile_from_dict(data: Any) -> LatencyProfile:
    """Build a profile from a mapping of exactly the profile's fields.

    Raises:
        ProfileError: data is not a mapping, misses fields, has unknown ones or bad values.
    """
    if not isinstance(data, dict):
        raise ProfileError(f"a latency profile is a JSON object of {', '.join(PROFILE_FIELDS)}")
    missing = [name for name in PROFILE_FIELDS if name not in data and name not in _OPTIONAL_FIELDS]
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if missing or unknown:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise ProfileError(
            f"latency profile fields: {'; '.join(p for p in parts if p)}."
            f" Expected exactly: {', '.join(PROFILE_FIELDS)}"
        )
    values: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        if name not in data:
            continue  # an optional field: its default
        value = data[name]
        if name in _INT_FIELDS and isinstance(value, float) and value.is_integer():
            value = int(value)
        values[name] = value
    return LatencyProfile(**values)


def load_profile(path: str | Path) -> LatencyProfile:
    """Read a latency profile from a JSON file.

    Raises:
        ProfileError: the file cannot be read, is not JSON, or is not a valid profile.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"profile {path} is not JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        return profile_from_dict(data)
    except ProfileError as exc:
        raise ProfileError(f"profile {path}: {exc}") from exc


@dataclass(frozen=True)
class Faults:
    """Faults to inject, for testing health checks and alerts."""

    error_rate: float = field(default=0.0, metadata={"help": "fraction of requests answered with HTTP 500"})
    extra_latency_ms: float = field(
        default=0.0, metadata={"help": "delay added before a request is queued, ms"}
    )
    startup_delay_s: float = field(
        default=0.0, metadata={"help": "seconds the server reports 'loading' (503)"}
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ProfileError(f"error rate must be between 0 and 1, got {self.error_rate}")
        if self.extra_latency_ms < 0 or self.startup_delay_s < 0:
            raise ProfileError(
                f"extra latency ({self.extra_latency_ms} ms) and startup delay ({self.startup_delay_s} s)"
                " must be >= 0"
            )


@dataclass(frozen=True)
class ServerConfig:
    """Everything the simulated vLLM server needs besides its clock."""

    model_name: str = field(metadata={"help": "served model name (vLLM --served-model-name)"})
    profile: LatencyProfile = field(metadata={"help": "step-time profile"})
    faults: Faults = field(default_factory=Faults, metadata={"help": "injected faults"})
    seed: int = field(default=0, metadata={"help": "seed for output lengths, text and faults"})
    max_model_len: int | None = field(
        default=None, metadata={"help": "longest prompt + output in tokens; default kv_cache_tokens"}
    )
    mean_output_tokens: float = field(
        default=256.0, metadata={"help": "mean of the seeded output-length draw when ignore_eos is false"}
    )

    def __post_init__(self) -> None:
        if not self.model_name.strip():
            raise ProfileError("the served model name must not be empty")
        if self.max_model_len is not None and not 1 <= self.max_model_len <= self.profile.usable_kv_tokens:
            raise ProfileError(
                f"max_model_len {self.max_model_len} must be between 1 and the KV-cache capacity"
                f" ({self.profile.usable_kv_tokens} tokens), or a request could never be scheduled"
            )
        if self.mean_output_tokens < 1:
            raise ProfileError(f"mean_output_tokens must be >= 1, got {self.mean_output_tokens}")

    @property
    def context_limit(self) -> int:
        """The effective max_model_len in tokens."""
        return self.max_model_len if self.max_model_len is not None else self.profile.usable_kv_tokens
