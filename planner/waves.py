"""Latency percentiles of a closed loop on a prefill-first engine (SGLang): one wave, every round.

The users of a wave return together and their prompts are prefilled in order, in budget-sized
prefill-only steps, before any decode step; so every round is the same and the spread of latencies
is the spread over positions in the wave: a prompt in the wave's first step gets its first token
soonest and then waits longest for its second one (decoding resumes when the whole wave is
prefilled), and every user finishes on the same step. TTFT and TPOT percentiles are taken over the
positions; ITL over every gap (the pure-decode steps, and one long gap per request after its first
token); e2e is the same for all. The means match the mean-value model's (`planner.serving`).
"""

from __future__ import annotations

import numpy as np

from planner.perf_model import StepCoefs
from planner.serving import Limits, Load, MeanResult, shape_of, wave_share, wave_times, wave_users

PERCENTILES = ("p50", "p90", "p95", "p99")
Q = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}


def _weighted(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q / 100.0 * cum[-1])])


def wave_shapes(coefs: StepCoefs, load: Load, limits: Limits, r: MeanResult) -> dict[str, dict[str, float]]:
    """{"ttft" | "tpot" | "itl" | "e2e": {percentile: ms}} of one replica's closed loop (scalar load)."""
    sh = shape_of(load)
    users = wave_users(r.batch, wave_share(limits, r.batch, sh.computed))
    at, end = wave_times(coefs, users, sh, limits.max_num_batched_tokens)
    at = np.asarray(at, dtype=float).reshape(-1)
    gaps = max(float(sh.osl) - 1.0, 1.0)
    ttft = at + (float(r.ttft_ms) - float(at.mean()))  # the fixed terms (front end, first token) added
    wait = float(np.asarray(end).reshape(-1)[0]) - at
    step = float(r.tpot_ms) - float(wait.mean()) / gaps  # a decode step of the whole wave
    tpot = step + wait / gaps
    out = {
        "ttft": {p: float(np.percentile(ttft, Q[p])) for p in PERCENTILES},
        "tpot": {p: float(np.percentile(tpot, Q[p])) for p in PERCENTILES},
        "e2e": {p: float(r.e2e_ms) for p in PERCENTILES},
    }
    # per request: gaps - 1 decode steps and one gap of a step plus the wait for the wave
    values = np.concatenate([[step], step + wait])
    weights = np.concatenate([[(gaps - 1.0) * at.size], np.ones(at.size)])
    out["itl"] = {p: _weighted(values, weights, Q[p]) for p in PERCENTILES}
    return out
