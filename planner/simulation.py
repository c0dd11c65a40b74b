"""A seeded discrete-event simulation of one continuous-batching replica, for latency distributions.

Each iteration schedules like vLLM: running decodes first, then prefill chunks in arrival order
within `max_num_batched_tokens`, admitting waiting requests while `max_num_seqs` and the KV cache
(prompt + output reserved, 16-token blocks, a shared prefix stored once) allow. The step takes
`perf_model.step_ms`. Stretches of pure decoding between events are advanced in one vectorised
jump, so a few hundred requests cost a few milliseconds. The shapes of the simulated distributions
(percentile / mean) are then applied to the calibrated means of `planner.serving`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from planner.perf_model import StepCoefs, step_ms
from planner.perf_types import PERCENTILES, Workload
from planner.serving import CLOSED_LOOP, Limits, Load, MeanResult

N_REQUESTS = 200
MAX_ITERATIONS = 6000
QS = np.array([50.0, 90.0, 95.0, 99.0])


def _lengths(rng: np.random.Generator, mean: int, std: int, n: int, low: int) -> np.ndarray:
    if std <= 0:
        return np.full(n, mean, dtype=np.int64)
    return np.maximum(np.rint(rng.normal(mean, std, n)), low).astype(np.int64)


def simulate(
    coefs: StepCoefs, load: Load, limits: Limits, workload: Workload, *, seed: int, n: int = N_REQUESTS
) -> dict[str, np.ndarray]:
    """Simulate n requests; returns per-request ttft/tpot/e2e (ms) and per-token itl samples."""
    rng = np.random.default_rng(seed)
    isl = _lengths(rng, workload.input_tokens, workload.input_tokens_std, n, workload.prefix_tokens + 1)
    osl = _lengths(rng, workload.output_tokens, workload.output_tokens_std, n, 1)
    closed = int(load.mode) == CLOSED_LOOP
    users = max(int(round(float(load.value))), 1) if closed else 0
    if closed:
        arrival = np.full(n, np.inf)
        arrival[: min(users, n)] = 0.0
    else:
        rate_ms = float(load.value) / 1000.0
        gaps = rng.exponential(1.0 / rate_ms, n) if float(load.arrival_cv2) > 0 else np.full(n, 1.0 / rate_ms)
        arrival = np.cumsum(gaps)
    prefix = workload.prefix_tokens
    todo = (isl - prefix).astype(float)  # prefill tokens still to compute (first request also the prefix)
    todo[0] += prefix
    ctx = np.zeros(n)
    ctx[1:] = prefix
    left = osl.astype(float)  # output tokens still to produce
    first = np.full(n, np.nan)
    done = np.full(n, np.nan)
    itl: list[np.ndarray] = []
    waiting: deque[int] = deque()
    running: list[int] = []
    kv_used, nxt, t, spawn = float(prefix), 0, 0.0, users
    seqs, budget, kv_cap = (
        int(limits.max_num_seqs),
        int(limits.max_num_batched_tokens),
        float(limits.kv_cache_tokens),
    )
    for _ in range(MAX_ITERATIONS):
        while nxt < n and arrival[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        while (
            waiting and len(running) < seqs and kv_used + isl[waiting[0]] + osl[waiting[0]] - prefix <= kv_cap
        ):
            i = waiting.popleft()
            running.append(i)
            kv_used += isl[i] + osl[i] - prefix
        if not running:
            if nxt >= n or not np.isfinite(arrival[nxt]):
                break
            t = max(t, float(arrival[nxt]))
            continue
        run = np.array(running)
        dec = run[todo[run] <= 0]
        pre = run[todo[run] > 0]
        if pre.size == 0 and not waiting:
            t = _jump(coefs, dec, ctx, left, t, float(arrival[nxt]) if nxt < n else np.inf, itl)
        else:
            room = budget - dec.size
            chunks = np.zeros(pre.size)
            for j, i in enumerate(pre):
                if room <= 0:
                    break
                chunks[j] = min(todo[i], room)
                room -= chunks[j]
            pairs = ctx[dec].sum() + float((chunks * (ctx[pre] + chunks / 2)).sum())
            dt = float(
                step_ms(
                    coefs,
                    batched_tokens=dec.size + chunks.sum(),
                    kv_tokens=ctx[run].sum() + chunks.sum(),
                    token_pairs=pairs,
                )
            )
            t += dt
            if dec.size:
                itl.append(np.full(dec.size, dt))
            ctx[dec] += 1
            left[dec] -= 1
            todo[pre] -= chunks
            ctx[pre] += chunks
            fin = pre[(todo[pre] <= 0) & (chunks > 0)]
            first[fin] = t
            left[fin] -= 1
        ended = [i for i in running if left[i] <= 0 and todo[i] <= 0]
        for i in ended:
            done[i] = t
            running.remove(i)
            kv_used -= isl[i] + osl[i] - prefix
            if closed and spawn < n:
                arrival[spawn] = t
                spawn += 1
    return _results(arrival, first, done, osl, itl, limits)


def _jump(
    coefs: StepCoefs,
    dec: np.ndarray,
    ctx: np.ndarray,
    left: np.ndarray,
    t: float,
    until: float,
    itl: list[np.ndarray],
) -> float:
    """Advance a pure-decode batch to the next completion or arrival in one vectorised step."""
    k = int(left[dec].min())
    j = np.arange(k)
    kv = ctx[dec].sum() + dec.size * j
    dts = step_ms(coefs, batched_tokens=float(dec.size), kv_tokens=kv, token_pairs=kv)
    ends = t + np.cumsum(dts)
    steps = int(np.searchsorted(ends, until)) + 1 if np.isfinite(until) else k
    steps = max(min(steps, k), 1)
    itl.append(np.repeat(dts[:steps], dec.size))
    ctx[dec] += steps
    left[dec] -= steps
    return float(ends[steps - 1])


def _results(
    arrival: np.ndarray,
    first: np.ndarray,
    done: np.ndarray,
    osl: np.ndarray,
    itl: list[np.ndarray],
    limits: Limits,
) -> dict[str, np.ndarray]:
    ok = np.isfinite(done) & np.isfinite(first) & np.isfinite(arrival)
    warm = np.arange(arrival.size) >= arrival.size // 10  # drop the first tenth: an empty engine
    ok &= warm
    ttft = first[ok] - arrival[ok] + float(limits.request_overhead_ms)
    decode = done[ok] - first[ok]
    tpot = decode / np.maximum(osl[ok] - 1, 1)
    return {
        "ttft": ttft,
        "tpot": tpot,
        "e2e": ttft + decode,
        "itl": np.concatenate(itl) if itl else np.zeros(0),
    }


def simulated_shapes(
    coefs: StepCoefs,
    load: Load,
    limits: Limits,
    workload: Workload,
    r: MeanResult,
    *,
    seed: int,
    fallback: dict[str, dict[str, float]],
) -> dict[str, dict[str, float]]:
    """Percentiles: the simulation's percentile/mean ratios applied to the calibrated means."""
    sim = simulate(coefs, load, limits, workload, seed=seed)
    means = {
        "ttft": float(r.ttft_ms),
        "tpot": float(r.tpot_ms),
        "itl": float(r.tpot_ms),
        "e2e": float(r.e2e_ms),
    }
    out: dict[str, dict[str, float]] = {}
    for key, mean in means.items():
        samples = sim[key]
        if samples.size < 20 or not np.isfinite(mean) or samples.mean() <= 0:
            out[key] = fallback[key]
            continue
        ratios = np.percentile(samples, QS) / samples.mean()
        out[key] = {p: float(mean * x) for p, x in zip(PERCENTILES, ratios, strict=True)}
    return out
