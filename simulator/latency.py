"""Step times and output lengths: pure functions of a latency profile (and a seeded `random.Random`).

One engine iteration (a continuous-batching step) takes

    step_overhead_ms + [eager_step_ms if batched_tokens > graph_max_tokens] + hypot(memory_ms, compute_ms)
    memory_ms  = weights_read_ms + kv_read_ms_per_1k_tokens * kv_tokens_read / 1000
    compute_ms = compute_ms_per_token * batched_tokens + attn_ms_per_1m_token_pairs * token_pairs / 1e6
                 - gemm_ms_per_token * batched_tokens * (1 - 1 / speedup)
    speedup    = 1 + large_step_speedup * batched_tokens / (batched_tokens + large_step_half_tokens)

where, over the sequences in the step (context_len = the sequence's tokens in the KV cache once
the step is done, i.e. cached tokens + tokens computed in this step):
- batched_tokens = prefill-chunk tokens + one per decoding sequence,
- kv_tokens_read = sum of context_len,
- token_pairs   = sum over prefill chunks of chunk_len * (tokens before the chunk + chunk_len / 2)
                  (causal attention's average) + sum over decodes of context_len.
On a model with sliding-window layers (window_share of them, window_tokens wide) those layers' part
of kv_tokens_read and token_pairs is capped at batched_tokens * window_tokens.
This is the definition `planner/perf_model.py` uses, so the two sides agree step for step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.config import LatencyProfile


@dataclass(frozen=True)
class StepLoad:
    """What one step computes: the three quantities the step-time formula needs."""

    batched_tokens: int
    kv_tokens_read: int
    token_pairs: float


def chunk_pairs(chunk_len: int, context_len: int) -> float:
    """(query, key) pairs of a prefill chunk ending at context_len: chunk_len x (before + chunk_len / 2)."""
    return chunk_len * (context_len - chunk_len / 2.0)


def step_load(prefill_chunks: Iterable[tuple[int, int]], decode_context_lens: Iterable[int]) -> StepLoad:
    """Sum a step's work from its prefill chunks `(chunk_len, context_len)` and decode context lengths."""
    batched = kv = 0
    pairs = 0.0
    for chunk_len, context_len in prefill_chunks:
        batched += chunk_len
        kv += context_len
        pairs += chunk_pairs(chunk_len, context_len)
    for context_len in decode_context_lens:
        batched += 1
        kv += context_len
        pairs += context_len
    return StepLoad(batched_tokens=batched, kv_tokens_read=kv, token_pairs=pairs)


def step_time_ms(
    profile: LatencyProfile, *, batched_tokens: int, kv_tokens_read: int, token_pairs: float
) -> float:
    """Time of one engine step in ms (the formula in the module docstring)."""
    kv = float(kv_tokens_read)
    if profile.window_tokens:
        reach = batched_tokens * profile.window_tokens
        kv -= profile.window_share * max(kv - reach, 0.0)
        token_pairs -= profile.window_share * max(token_pairs - reach, 0.0)
    memory_ms = profile.weights_read_ms + profile.kv_read_ms_per_1k_tokens * kv / 1000.0
    compute_ms = (
        profile.compute_ms_per_token * batched_tokens + profile.attn_ms_per_1m_token_pairs * token_pairs / 1e6
    )
    if profile.large_step_speedup:  # GEMMs run faster in large steps (prefill chunks), low-bit ones most
        n = float(batched_tokens)
        speedup = 1.0 + profile.large_step_speedup * n / (n + profile.large_step_half_tokens)
        compute_ms -= profile.gemm_ms_per_token * n * (1.0 - 1.0 / speedup)
    eager_ms = profile.eager_step_ms if batched_tokens > profile.graph_max_tokens else 0.0
    return profile.step_overhead_ms + eager_ms + math.hypot(memory_ms, compute_ms)


def load_step_time_ms(profile: LatencyProfile, load: StepLoad) -> float:
    """Time of one engine step in ms for a `StepLoad`."""
    return step_time_ms(
        profile,
        batched_tokens=load.batched_tokens,
        kv_tokens_read=load.kv_tokens_read,
        token_pairs=load.token_pairs,
    )


def decode_itl_ms(profile: LatencyProfile, *, batch_size: int, mean_context_len: float) -> float:
    """Inter-token latency in ms of a steady decode-only batch of `batch_size` sequences."""
    context = int(round(mean_context_len))
    return step_time_ms(
        profile,
        batched_tokens=batch_size,
        kv_tokens_read=batch_size * context,
        token_pairs=batch_size * context,
    )


def solo_prefill_ms(profile: LatencyProfile, prompt_tokens: int) -> float:
    """Time in ms to prefill one prompt alone on an idle engine (chunked by max_num_batched_tokens).

    This is the TTFT of a request that arrives at an idle engine.
    """
    total_ms, done = 0.0, 0
    while done < prompt_tokens:
        chunk = min(profile.max_num_batched_tokens, prompt_tokens - done)
        done += chunk
        pairs = chunk_pairs(chunk, done)
        total_ms += step_time_ms(profile, batched_tokens=chunk, kv_tokens_read=done, token_pairs=pairs)
    return total_ms


def draw_output_tokens(rng: random.Random, *, max_tokens: int, mean_tokens: float) -> int:
    """Output length of a request that may stop at EOS: exponential, mean mean_tokens, in [1, max_tokens]."""
    drawn = math.ceil(rng.expovariate(1.0 / mean_tokens))
    return max(1, min(max_tokens, drawn))
