"""A seeded discrete-event simulation of one continuous-batching replica, for latency distributions.

Each iteration schedules like vLLM: running decodes first, then prefill chunks in arrival order
within `max_num_batched_tokens`, admitting waiting requests while `max_num_seqs` and the KV cache
(prompt + output reserved, a shared prefix stored once) allow. The step takes
`perf_model.step_ms`. Stretches of pure decoding between events are advanced in one vectorised
jump, so a couple of hundred requests cost milliseconds. The shapes of the simulated
distributions (percentile / mean) are then applied to the calibrated means of `planner.serving`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from planner.perf_model import StepCoefs, step_ms
from planner.perf_types import PERCENTILES, Workload
from planner.serving import CLOSED_LOOP, Limits, Load, MeanResult

N_REQUESTS = 160
MAX_ITERATIONS = 4000
QS = np.array([50.0, 90.0, 95.0, 99.0])


def _lengths(rng: np.random.Generator, mean: int, std: int, n: int, low: int) -> np.ndarray:
    if std <= 0:
        return np.full(n, float(mean))
    return np.maximum(np.rint(rng.normal(mean, std, n)), low)


@dataclass
class _State:
    """Per-request arrays of one simulation (mutable: the event loop's working state)."""

    arrival: np.ndarray
    isl: np.ndarray
    osl: np.ndarray
    todo: np.ndarray  # prefill tokens still to compute
    ctx: np.ndarray  # tokens in the KV cache
    left: np.ndarray  # output tokens still to produce
    first: np.ndarray
    done: np.ndarray
    itl_ms: list[np.ndarray] = field(default_factory=list)
    itl_weight: list[int] = field(default_factory=list)
    step_itl: list[float] = field(default_factory=list)  # single mixed steps (cheaper than arrays)
    step_weight: list[int] = field(default_factory=list)


def _arrivals(rng: np.random.Generator, load: Load, n: int) -> tuple[np.ndarray, int]:
    if int(load.mode) == CLOSED_LOOP:
        users = max(int(round(float(load.value))), 1)
        arrival = np.full(n, np.inf)
        arrival[: min(users, n)] = 0.0
        return arrival, users
    mean_gap = 1000.0 / float(load.value)
    gaps = rng.exponential(mean_gap, n) if float(load.arrival_cv2) > 0 else np.full(n, mean_gap)
    return np.cumsum(gaps), 0


def _state(load: Load, workload: Workload, *, seed: int, n: int) -> tuple[_State, int]:
    rng = np.random.default_rng(seed)
    isl = _lengths(rng, workload.input_tokens, workload.input_tokens_std, n, workload.prefix_tokens + 1)
    osl = _lengths(rng, workload.output_tokens, workload.output_tokens_std, n, 1)
    arrival, users = _arrivals(rng, load, n)
    prefix = workload.prefix_tokens
    todo = isl - prefix
    todo[0] += prefix  # the first request computes the shared prefix; later ones read it from cache
    ctx = np.full(n, float(prefix))
    ctx[0] = 0.0
    nan = np.full(n, np.nan)
    return _State(arrival, isl, osl, todo, ctx, osl.copy(), nan, nan.copy()), users


def simulate(
    coefs: StepCoefs, load: Load, limits: Limits, workload: Workload, *, seed: int, n: int = N_REQUESTS
) -> dict[str, np.ndarray]:
    """Simulate n requests; returns per-request ttft/tpot/e2e (ms) and ITL samples with weights."""
    st, users = _state(load, workload, seed=seed, n=n)
    prefix = float(workload.prefix_tokens)
    need = st.isl + float(limits.kv_output_reserve) * st.osl - prefix  # KV tokens held per request
    seqs, budget = int(limits.max_num_seqs), int(limits.max_num_batched_tokens)
    kv_cap = float(limits.kv_cache_tokens)
    waiting: deque[int] = deque()
    run = np.zeros(0, dtype=np.int64)
    kv_used, nxt, t, spawn = prefix, 0, 0.0, users
    for _ in range(MAX_ITERATIONS):
        while nxt < n and st.arrival[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        admitted: list[int] = []
        while waiting and run.size + len(admitted) < seqs and kv_used + need[waiting[0]] <= kv_cap:
            i = waiting.popleft()
            admitted.append(i)
            kv_used += need[i]
        if admitted:
            run = np.concatenate((run, np.array(admitted, dtype=np.int64)))
        if run.size == 0:
            if nxt >= n or not np.isfinite(st.arrival[nxt]):
                break
            t = max(t, float(st.arrival[nxt]))
            continue
        pending = st.todo[run] > 0
        if not waiting and not pending.any():
            t = _jump(coefs, st, run, t, float(st.arrival[nxt]) if nxt < n else np.inf)
        else:
            t = _step(coefs, st, run[~pending], run[pending], budget, t)
        finished = (st.left[run] <= 0) & (st.todo[run] <= 0)
        if finished.any():
            gone = run[finished]
            st.done[gone] = t
            kv_used -= float(need[gone].sum())
            run = run[~finished]
            new = min(gone.size, n - spawn) if users else 0
            st.arrival[spawn : spawn + new] = t  # closed loop: each finished user sends the next request
            spawn += new
    return _results(st, limits, closed=users > 0)


def _step(coefs: StepCoefs, st: _State, dec: np.ndarray, pre: np.ndarray, budget: int, t: float) -> float:
    """One mixed iteration: every decode, then prefill chunks in arrival order within the budget."""
    todo = st.todo[pre]
    before = np.cumsum(todo) - todo  # tokens of earlier prompts scheduled first
    chunks = np.minimum(todo, np.maximum(budget - dec.size - before, 0.0))
    kv = float(st.ctx[dec].sum())
    pre_ctx = st.ctx[pre]
    pairs = kv + float((chunks * (pre_ctx + chunks / 2)).sum())
    batched = dec.size + float(chunks.sum())
    dt = float(step_ms(coefs, batched_tokens=batched, kv_tokens=kv + float(pre_ctx.sum()), token_pairs=pairs))
    t += dt
    if dec.size:
        st.step_itl.append(dt)
        st.step_weight.append(dec.size)
        st.ctx[dec] += 1
        st.left[dec] -= 1
    st.todo[pre] -= chunks
    st.ctx[pre] += chunks
    first = pre[(st.todo[pre] <= 0) & (chunks > 0)]
    st.first[first] = t
    st.left[first] -= 1  # the prefill step also produces the first token
    return t


def _jump(coefs: StepCoefs, st: _State, run: np.ndarray, t: float, until: float) -> float:
    """Advance a pure-decode batch to the next completion or arrival in one vectorised step."""
    k = int(st.left[run].min())
    kv = float(st.ctx[run].sum()) + run.size * np.arange(k)
    dts = step_ms(coefs, batched_tokens=float(run.size), kv_tokens=kv, token_pairs=kv)
    ends = t + np.cumsum(dts)
    steps = int(np.searchsorted(ends, until)) + 1 if np.isfinite(until) else k
    steps = max(min(steps, k), 1)
    st.itl_ms.append(dts[:steps])
    st.itl_weight.append(run.size)
    st.ctx[run] += steps
    st.left[run] -= steps
    return float(ends[steps - 1])


def _results(st: _State, limits: Limits, *, closed: bool) -> dict[str, np.ndarray]:
    ok = np.isfinite(st.done) & np.isfinite(st.first) & np.isfinite(st.arrival)
    ok &= np.arange(st.arrival.size) >= st.arrival.size // 10  # drop the first tenth: an empty engine
    front = float(limits.closed_loop_overhead_ms) if closed else 0.0
    ttft = st.first[ok] - st.arrival[ok] + float(limits.request_overhead_ms) + front
    decode = st.done[ok] - st.first[ok]
    itl = np.concatenate([*st.itl_ms, np.array(st.step_itl)])
    weights = np.concatenate(
        [
            np.repeat(np.array(st.itl_weight, dtype=float), [a.size for a in st.itl_ms]),
            np.array(st.step_weight, dtype=float),
        ]
    )
    return {
        "ttft": ttft,
        "tpot": decode / np.maximum(st.osl[ok] - 1, 1),
        "e2e": ttft + decode,
        "itl": itl,
        "itl_weight": weights,
    }


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    idx = np.searchsorted(cum, QS / 100.0 * cum[-1])
    return np.asarray(values[order][np.minimum(idx, values.size - 1)])


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
        if key == "itl":
            w = sim["itl_weight"]
            ratios = _weighted_percentiles(samples, w) / (float((samples * w).sum()) / float(w.sum()))
        else:
            ratios = np.percentile(samples, QS) / samples.mean()
        out[key] = {p: float(mean * x) for p, x in zip(PERCENTILES, ratios, strict=True)}
    return out
