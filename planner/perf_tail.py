"""Closed-form latency percentiles around the mean-value solution (the fast path).

Waits for a step boundary are uniform over one decode step; queue waits have an exponential tail
(probability of waiting x exp(-t / scale), as in M/M/c); the batch fluctuates like a Poisson count
under open arrivals; ITL percentiles jump to the prefill-carrying step once such steps are more
common than the percentile's tail. The discrete-event simulation (`planner.simulation`) replaces
these shapes when tail accuracy matters; both share the calibrated means.
"""

from __future__ import annotations

import math

import numpy as np

from planner.perf_model import Num, StepCoefs, step_ms
from planner.serving import CLOSED_LOOP, RATE, Limits, Load, MeanResult, _decode, shape_of

Z = {"p50": 0.0, "p90": 1.2816, "p95": 1.6449, "p99": 2.3263}
Q = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}


def _queue_quantile(mean_wait: Num, p_wait: Num, q: float) -> Num:
    p_wait = np.clip(p_wait, 1e-6, 1.0)
    scale = mean_wait / p_wait
    return np.where(p_wait > 1.0 - q, scale * np.log(p_wait / (1.0 - q)), 0.0)


def tail(
    coefs: StepCoefs,
    load: Load,
    limits: Limits,
    r: MeanResult,
    *,
    input_std: float,
    output_std: float,
    percentile: str | tuple[str, ...],
) -> tuple[Num, Num, Num, Num]:
    """(TTFT, TPOT, ITL, e2e) at one percentile (or an array over several, for a scalar load), ms."""
    names = (percentile,) if isinstance(percentile, str) else percentile
    z = np.array([Z[p] for p in names]) if len(names) > 1 else Z[names[0]]
    q = np.array([Q[p] for p in names]) if len(names) > 1 else Q[names[0]]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _tail(coefs, load, limits, r, input_std=input_std, output_std=output_std, z=z, q=q)


def _tail(
    coefs: StepCoefs,
    load: Load,
    limits: Limits,
    r: MeanResult,
    *,
    input_std: float,
    output_std: float,
    z: Num,
    q: Num,
) -> tuple[Num, Num, Num, Num]:
    sh = shape_of(load)
    open_loop = np.asarray(load.mode) == RATE
    rho = np.where(open_loop, np.minimum(r.requests_per_s / np.maximum(r.capacity_rps, 1e-9), 1.0), 1.0)
    queue = r.queue_ms
    finite = np.isfinite(queue)
    pf_scale = np.maximum(sh.computed + z * input_std, 1.0) / sh.computed
    waits = np.where(queue > 0, _queue_quantile(np.where(finite, queue, 0.0), rho, q), 0.0)
    closed = np.asarray(load.mode) == CLOSED_LOOP
    front = np.where(closed, limits.closed_loop_overhead_ms + limits.first_token_steps * r.tpot_ms, 0.0)
    ttft = limits.request_overhead_ms + front + q * r.tpot_ms + r.prefill_ms * pf_scale + waits
    ttft = np.where(finite, ttft, np.inf)
    b_p = np.where(open_loop, r.batch + z * np.sqrt(np.maximum(r.batch, 0.0)), r.batch)
    tpot = np.where(q > 0.5, np.maximum(_decode(coefs, b_p, sh), r.tpot_ms), _decode(coefs, b_p, sh))
    pure = step_ms(coefs, batched_tokens=b_p, kv_tokens=b_p * sh.ctx, token_pairs=b_p * sh.ctx)
    itl = np.where(_mixed_share(load, r, open_loop) > 1.0 - q, r.prefill_step_ms, pure)
    osl_p = np.maximum(sh.osl + z * output_std, 1.0)
    e2e = (
        r.ttft_ms
        + (ttft - r.ttft_ms) * 0.5
        + (osl_p - 1.0) * r.tpot_ms
        + (tpot - r.tpot_ms) * (sh.osl - 1.0) * 0.5
    )
    return ttft, tpot, itl, np.where(np.isfinite(ttft), e2e, np.inf)


def _mixed_share(load: Load, r: MeanResult, open_loop: Num) -> Num:
    """Share of decode steps that carry a prompt's prefill.

    Open arrivals: a step carries one when a request arrived during the step before, so pure and
    prefill-carrying steps form a two-state chain (a carrying step is longer, hence more likely to
    be followed by another); its stationary share of carrying steps. Closed loops: each finishing
    request sends the next prompt, batch / output length per step.
    """
    sh = shape_of(load)
    rate_per_ms = np.where(open_loop, np.asarray(load.value, dtype=float), 0.0) / 1000.0
    after_pure = 1.0 - np.exp(-rate_per_ms * r.decode_step_ms)
    after_mixed = 1.0 - np.exp(-rate_per_ms * r.prefill_step_ms)
    chain = after_pure * r.prefill_steps / np.maximum(1.0 - after_mixed + after_pure, 1e-9)
    closed = r.batch / sh.osl * r.prefill_steps
    return np.minimum(np.where(open_loop, chain, closed), 1.0)


def is_finite(x: float) -> bool:
    """True for a finite float (inf marks a queue that grows without bound)."""
    return math.isfinite(x)
