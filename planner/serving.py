"""Serving dynamics in closed form: mean-value analysis of continuous batching with chunked prefill.

One replica runs at most `max_num_seqs` sequences, limited by its KV cache, and computes at most
`max_num_batched_tokens` tokens per step (decodes first, then prefill chunks). In steady state each
decode step also carries, on average, `batch x computed_prompt / output` prefill tokens, which is how
prefill interferes with ITL. Loads: a closed loop at a concurrency, an open arrival process at a
rate (Little's law gives the batch, a fixed point), or maximum throughput (the largest batch that
memory and the token budget allow). Queue waits use the Allen-Cunneen M/G/c approximation with the
Sakasegawa waiting probability, plus an M/D/1 wait for the prefill token budget.

All functions take floats or numpy arrays (one value per benchmark row); `planner.simulation`
gives the distributions, this module the fast means used by the fit and the capacity search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.perf_model import Num, StepCoefs, step_ms

CLOSED_LOOP, RATE, MAX_THROUGHPUT = 0, 1, 2


@dataclass(frozen=True)
class Load:
    """Workload and load of one replica (floats or arrays)."""

    input_tokens: Num
    output_tokens: Num
    prefix_tokens: Num
    mode: Num  # CLOSED_LOOP | RATE | MAX_THROUGHPUT
    value: Num  # concurrency (closed loop) or requests/s (rate); ignored at max throughput
    arrival_cv2: Num = 1.0  # squared coefficient of variation of inter-arrival times (Poisson 1)
    output_cv2: Num = 0.0  # squared CV of output lengths


@dataclass(frozen=True)
class Limits:
    """Engine limits of one replica."""

    max_num_seqs: Num
    max_num_batched_tokens: Num
    kv_cache_tokens: Num
    request_overhead_ms: Num
    queue_factor: float = 1.0
    closed_loop_wave: Num = 0.0


@dataclass(frozen=True)
class MeanResult:
    """Mean latencies (ms) and throughput of one replica."""

    ttft_ms: Num
    tpot_ms: Num
    decode_step_ms: Num  # decode-only step at the mean batch
    prefill_ms: Num  # own prefill time inside TTFT
    queue_ms: Num
    e2e_ms: Num
    output_tokens_per_s: Num
    requests_per_s: Num
    batch: Num
    capacity_rps: Num
    saturated: Num
    prefill_steps: Num
    prefill_step_ms: Num


def _shape(load: Load) -> tuple[Num, Num, Num, Num]:
    isl = np.maximum(load.input_tokens, 1.0)
    osl = np.maximum(load.output_tokens, 1.0)
    prefix = np.clip(load.prefix_tokens, 0.0, isl - 1.0)
    return isl, osl, prefix, np.maximum(isl - prefix, 1.0)


def decode_step(coefs: StepCoefs, batch: Num, load: Load, prefill_rate: Num | None = None) -> Num:
    """Mean decode step at `batch` sequences, carrying the prefill tokens of its arrivals."""
    isl, osl, prefix, computed = _shape(load)
    ctx = isl + osl / 2.0
    arrivals = batch / osl if prefill_rate is None else prefill_rate  # new requests per step
    prefill = arrivals * computed
    pairs = batch * ctx + arrivals * computed * (prefix + computed / 2.0)
    return step_ms(coefs, batched_tokens=batch + prefill, kv_tokens=batch * ctx, token_pairs=pairs)


def pure_decode_step(coefs: StepCoefs, batch: Num, load: Load) -> Num:
    """Decode-only step at `batch` sequences (no prefill chunk in it)."""
    isl, osl, _, _ = _shape(load)
    ctx = isl + osl / 2.0
    return step_ms(coefs, batched_tokens=batch, kv_tokens=batch * ctx, token_pairs=batch * ctx)


def prefill_service(
    coefs: StepCoefs, batch: Num, load: Load, limits: Limits, ahead: Num
) -> tuple[Num, Num, Num]:
    """Own prefill of one request behind `ahead` prompt tokens of others: (steps, ms per step, total ms)."""
    isl, osl, prefix, computed = _shape(load)
    room = np.maximum(limits.max_num_batched_tokens - batch, 256.0)
    work = computed + ahead
    steps = np.ceil(work / room)
    chunk = np.minimum(work, room)
    ctx = isl + osl / 2.0
    pairs = batch * ctx + chunk * (prefix + computed / 2.0)
    one = step_ms(coefs, batched_tokens=batch + chunk, kv_tokens=batch * ctx, token_pairs=pairs)
    return steps, one, steps * one


def max_batch(load: Load, limits: Limits) -> Num:
    """Largest steady batch: max_num_seqs, the KV cache, and the prefill token budget allow."""
    isl, osl, _, computed = _shape(load)
    by_kv = np.floor(limits.kv_cache_tokens / (isl + osl))
    by_budget = limits.max_num_batched_tokens * osl / (osl + computed)
    return np.maximum(np.minimum(np.minimum(limits.max_num_seqs, by_kv), by_budget), 1.0)


def _cycle(
    coefs: StepCoefs, batch: Num, load: Load, limits: Limits, wave: Num = 0.0
) -> tuple[Num, Num, Num, Num, Num]:
    """Per-request running time at `batch`: (decode step, prefill steps, step ms, prefill ms, run ms).

    `wave` is the share of the other sequences whose prompts arrive together with this one (closed
    loops with fixed lengths stay in step); on average half of those are scheduled first.
    """
    _, osl, _, computed = _shape(load)
    t_dec = decode_step(coefs, batch, load)
    ahead = np.maximum(batch / osl, wave * np.maximum(batch - 1.0, 0.0) / 2.0) * computed
    steps, one, t_pf = prefill_service(coefs, batch, load, limits, ahead)
    run = 0.5 * t_dec + t_pf + np.maximum(osl - 1.0, 0.0) * t_dec
    return t_dec, steps, one, t_pf, run


def mean_value(coefs: StepCoefs, load: Load, limits: Limits) -> MeanResult:
    """Mean TTFT/TPOT/e2e and throughput of one replica under `load` (vectorised)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _mean_value(coefs, load, limits)


def _mean_value(coefs: StepCoefs, load: Load, limits: Limits) -> MeanResult:
    _, osl, _, _ = _shape(load)
    b_max = max_batch(load, limits)
    *_, run_max = _cycle(coefs, b_max, load, limits)
    capacity = b_max / run_max  # requests per ms
    mode = np.asarray(load.mode)
    rate = np.where(mode == RATE, np.asarray(load.value, dtype=float) / 1000.0, 0.0)
    conc = np.where(mode == CLOSED_LOOP, np.asarray(load.value, dtype=float), b_max)
    saturated = (mode == RATE) & (rate >= capacity * 0.999)
    # open loop: batch = rate x running time (Little), solved by damped fixed-point iteration
    b_rate = np.minimum(np.maximum(rate * run_max, 1.0), b_max)
    for _ in range(12):
        *_, run = _cycle(coefs, b_rate, load, limits)
        b_rate = np.minimum(np.maximum(0.5 * b_rate + 0.5 * rate * run, rate * 1e-9 + 1e-3), b_max)
    batch = np.where(mode == RATE, b_rate, np.minimum(conc, b_max))
    wave = np.where(mode == CLOSED_LOOP, limits.closed_loop_wave, 0.0)
    t_dec, steps, one, t_pf, run = _cycle(coefs, batch, load, limits, wave)
    throughput = np.where(mode == RATE, np.minimum(rate, capacity), batch / run)
    rho = np.clip(np.where(mode == RATE, rate / capacity, 0.0), 0.0, 0.999)
    servers = np.maximum(b_max, 1.0)
    p_wait = np.power(rho, np.sqrt(2.0 * (servers + 1.0)) - 1.0)
    cs2 = load.output_cv2
    q_open = limits.queue_factor * p_wait / (servers / run_max * (1.0 - rho)) * (load.arrival_cv2 + cs2) / 2.0
    rho_pf = np.clip(rate * t_pf, 0.0, 0.95)
    q_prefill = load.arrival_cv2 * rho_pf * t_pf / (2.0 * (1.0 - rho_pf))
    q_closed = np.maximum(conc - batch, 0.0) / np.maximum(batch / run, 1e-12)
    queue = np.where(mode == RATE, q_open + q_prefill, q_closed)
    queue = np.where(saturated, np.inf, queue)
    ttft = limits.request_overhead_ms + 0.5 * t_dec + t_pf + queue
    tpot = t_dec
    e2e = ttft + np.maximum(osl - 1.0, 0.0) * tpot
    return MeanResult(
        ttft_ms=ttft,
        tpot_ms=tpot,
        decode_step_ms=pure_decode_step(coefs, batch, load),
        prefill_ms=t_pf,
        queue_ms=queue,
        e2e_ms=e2e,
        output_tokens_per_s=throughput * osl * 1000.0,
        requests_per_s=throughput * 1000.0,
        batch=batch,
        capacity_rps=capacity * 1000.0,
        saturated=saturated,
        prefill_steps=steps,
        prefill_step_ms=one,
    )
