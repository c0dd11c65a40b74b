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
    closed_loop_lockstep: Num = 0.0  # extra wave share when a round's prompts fit in one step
    first_token_steps: Num = 0.0  # decode steps between a prompt's last prefill step and its first token
    closed_loop_overhead_ms: Num = 0.0  # benchmark client/front-end time in closed-loop TTFT
    kv_output_reserve: Num = 1.0  # share of the output's KV an admitted sequence holds on average
    state_tokens: Num = 0.0  # a hybrid's fixed per-sequence state, in KV tokens' worth of memory
    prefill_first: Num = 0.0  # 1: prompts run as prefill-only batches ahead of decode steps (SGLang)


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


@dataclass(frozen=True)
class Shape:
    """Token lengths derived once per evaluation: prompt, output, cached prefix, computed prompt."""

    isl: Num
    osl: Num
    prefix: Num
    computed: Num
    ctx: Num  # mean context of a decoding sequence
    pf_pairs: Num  # attention pairs of one request's prefill, per computed token


def shape_of(load: Load) -> Shape:
    """Derive the token-length terms of a load."""
    isl = np.maximum(load.input_tokens, 1.0)
    osl = np.maximum(load.output_tokens, 1.0)
    prefix = np.minimum(np.maximum(load.prefix_tokens, 0.0), isl - 1.0)
    computed = np.maximum(isl - prefix, 1.0)
    return Shape(isl, osl, prefix, computed, isl + osl / 2.0, prefix + computed / 2.0)


def _decode(coefs: StepCoefs, batch: Num, sh: Shape, wave: Num = 0.0, budget: Num = 8192.0) -> Num:
    """Mean decode step: a mix of steps carrying a prefill chunk and pure-decode steps.

    Arrivals per step are batch / output length (prompts of a closed-loop wave are prefilled before
    decoding starts); a prompt spans ceil(prompt / room) steps, so that share of steps carries a chunk.
    """
    arrivals = (1.0 - wave) * batch / sh.osl
    room = np.maximum(budget - batch, 256.0)
    share = np.minimum(arrivals * np.ceil(sh.computed / room), 1.0)
    chunk = arrivals * sh.computed / np.maximum(share, 1e-9)  # prefill tokens in a carrying step
    kv = batch * sh.ctx
    pure = step_ms(coefs, batched_tokens=batch, kv_tokens=kv, token_pairs=kv)
    mixed = step_ms(coefs, batched_tokens=batch + chunk, kv_tokens=kv, token_pairs=kv + chunk * sh.pf_pairs)
    return (1.0 - share) * pure + share * mixed


def decode_step(coefs: StepCoefs, batch: Num, load: Load) -> Num:
    """Mean decode step at `batch` sequences, carrying the prefill tokens of its arrivals."""
    return _decode(coefs, batch, shape_of(load))


def pure_decode_step(coefs: StepCoefs, batch: Num, load: Load) -> Num:
    """Decode-only step at `batch` sequences (no prefill chunk in it)."""
    sh = shape_of(load)
    return step_ms(coefs, batched_tokens=batch, kv_tokens=batch * sh.ctx, token_pairs=batch * sh.ctx)


def _prefill(coefs: StepCoefs, batch: Num, sh: Shape, budget: Num, ahead: Num) -> tuple[Num, Num, Num]:
    """Own prefill behind `ahead` prompt tokens of others: (steps, ms per step, total ms)."""
    room = np.maximum(budget - batch, 256.0)
    work = sh.computed + ahead
    steps = np.ceil(work / room)
    chunk = np.minimum(work, room)
    last = work - (steps - 1.0) * room  # the final chunk is only what is left
    kv = batch * sh.ctx
    one = step_ms(coefs, batched_tokens=batch + chunk, kv_tokens=kv, token_pairs=kv + chunk * sh.pf_pairs)
    end = step_ms(coefs, batched_tokens=batch + last, kv_tokens=kv, token_pairs=kv + last * sh.pf_pairs)
    return steps, one, (steps - 1.0) * one + end


def max_batch(load: Load, limits: Limits) -> Num:
    """Largest steady batch: max_num_seqs, the KV cache, and the prefill token budget allow."""
    return _max_batch(shape_of(load), limits)


def _max_batch(sh: Shape, limits: Limits) -> Num:
    per_seq = sh.isl + limits.kv_output_reserve * sh.osl + limits.state_tokens
    by_kv = np.floor(limits.kv_cache_tokens / per_seq)
    by_budget = limits.max_num_batched_tokens * sh.osl / (sh.osl + sh.computed)
    return np.maximum(np.minimum(np.minimum(limits.max_num_seqs, by_kv), by_budget), 1.0)


WAVE_GRID = np.linspace(0.0, 1.0, 33)  # positions in a wave at which first-token times are averaged


def _wave_prefill(coefs: StepCoefs, users: Num, sh: Shape, budget: Num) -> tuple[Num, Num]:
    """(mean time to a prompt's first token, time to the end of the wave) of `wave_times`, ms."""
    at, end = wave_times(coefs, users, sh, budget)
    return at.mean(axis=-1), end


def wave_share(limits: Limits, batch: Num, computed: Num) -> Num:
    """Share of the other users of a closed loop whose prompts arrive in the same wave.

    `closed_loop_wave` everywhere, plus `closed_loop_lockstep` in proportion to how much of one
    round's prompts fit in one step: a round that one step prefills gives every user its first token
    on the same step, so they finish and return together round after round; a round spread over n
    steps splits into n groups that drift apart.
    """
    fits = np.minimum(limits.max_num_batched_tokens / np.maximum(batch * computed, 1.0), 1.0)
    return np.minimum(limits.closed_loop_wave + limits.closed_loop_lockstep * fits, 1.0)


def wave_users(batch: Num, wave: Num) -> Num:
    """Prompts arriving together in a closed loop on a prefill-first engine: a `wave` share of the
    others (the rest are spread)."""
    return 1.0 + wave * np.maximum(batch - 1.0, 0.0)


def wave_times(coefs: StepCoefs, users: Num, sh: Shape, budget: Num) -> tuple[np.ndarray, Num]:
    """A wave of `users` prompts arriving together, prefilled in order in budget-sized prefill-only
    steps: (time to the first token at each of `WAVE_GRID`'s positions in the wave, time to the end
    of the wave), ms.

    Every prompt of a step gets its first token when the step ends, so a prompt waits for the whole
    step its last token lands in (not only for the prompts ahead of it): the mean over positions in
    the wave is taken on the steps themselves.
    """
    room = np.maximum(budget, 256.0)
    total = users * sh.computed
    steps = np.ceil(total / room)
    last_tokens = total - (steps - 1.0) * room
    full = step_ms(coefs, batched_tokens=room, kv_tokens=0.0, token_pairs=room * sh.pf_pairs)
    last = step_ms(coefs, batched_tokens=last_tokens, kv_tokens=0.0, token_pairs=last_tokens * sh.pf_pairs)
    end = (steps - 1.0) * full + last
    col = np.asarray  # (rows, 1) against the grid: one mean per row
    position = 1.0 + col(np.maximum(users - 1.0, 0.0))[..., None] * WAVE_GRID
    step = np.minimum(
        np.ceil(position * col(sh.computed)[..., None] / col(room)[..., None]), col(steps)[..., None]
    )
    at = np.where(step >= col(steps)[..., None], col(end)[..., None], step * col(full)[..., None])
    return at, end


def _cycle(
    coefs: StepCoefs, batch: Num, sh: Shape, limits: Limits, wave: Num = 0.0
) -> tuple[Num, Num, Num, Num, Num]:
    """Per-request running time at `batch`: (decode step, prefill steps, step ms, prefill ms, run ms).

    `wave` is the share of the other sequences whose prompts arrive together with this one (closed
    loops with fixed lengths stay in step); on average half of those are scheduled first.
    """
    t_dec = _decode(coefs, batch, sh, wave, limits.max_num_batched_tokens)
    steps, one, t_pf = _prefill(coefs, batch, sh, limits.max_num_batched_tokens, batch / sh.osl * sh.computed)
    if np.any(np.asarray(wave) > 0):
        t_wave = _wave_prefill(coefs, batch, sh, limits.max_num_batched_tokens)[0]
        t_pf = (1.0 - wave) * t_pf + wave * t_wave
    run = 0.5 * t_dec + t_pf + (sh.osl - 1.0) * t_dec
    return t_dec, steps, one, t_pf, run


def _waves(coefs: StepCoefs, batch: Num, sh: Shape, limits: Limits, wave: Num) -> tuple[Num, Num, Num, Num]:
    """A closed loop on a prefill-first engine: (decode step, own prefill, TPOT, cycle), all ms.

    The users of a wave finish on the same step and return together, so every round starts with
    the whole wave's prompts, run as prefill-only batches (no decode in them) in arrival order:
    a prompt waits on average for half the others. Decoding resumes only when the wave is
    prefilled, so the first decode gap of an early prompt holds the rest of the wave's prefill,
    which TPOT (the mean gap after the first token) carries.
    """
    budget = limits.max_num_batched_tokens
    t_pf, t_wave = _wave_prefill(coefs, wave_users(batch, wave), sh, budget)
    t_dec = _decode(coefs, batch, sh, wave, budget)
    tpot = t_dec + np.maximum(t_wave - t_pf, 0.0) / np.maximum(sh.osl - 1.0, 1.0)
    return t_dec, t_pf, tpot, t_wave + (sh.osl - 1.0) * t_dec


def _open_loop_batch(coefs: StepCoefs, sh: Shape, limits: Limits, rate: Num, b_max: Num) -> Num:
    """Batch B with B = rate x running time(B) (Little's law), by Newton steps on a secant slope."""
    b = np.minimum(np.maximum(rate * _cycle(coefs, 1.0, sh, limits)[4], 1e-3), b_max)
    for _ in range(4):
        run = _cycle(coefs, b, sh, limits)[4]
        slope = (_cycle(coefs, b + 1.0, sh, limits)[4] - run) * rate  # d(rate x run)/dB
        step = (rate * run - b) / np.maximum(1.0 - slope, 0.05)
        b = np.minimum(np.maximum(b + step, 1e-3), b_max)
    return b


def capacity_rps(coefs: StepCoefs, load: Load, limits: Limits) -> Num:
    """Highest sustainable request rate of one replica (requests/s): the full batch's throughput."""
    sh = shape_of(load)
    b_max = _max_batch(sh, limits)
    return b_max / _cycle(coefs, b_max, sh, limits)[4] * 1000.0


def mean_value(coefs: StepCoefs, load: Load, limits: Limits) -> MeanResult:
    """Mean TTFT/TPOT/e2e and throughput of one replica under `load` (vectorised)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _mean_value(coefs, load, limits)


def _mean_value(coefs: StepCoefs, load: Load, limits: Limits) -> MeanResult:
    sh = shape_of(load)
    b_max = _max_batch(sh, limits)
    run_max = _cycle(coefs, b_max, sh, limits)[4]
    capacity = b_max / run_max  # requests per ms
    mode = np.asarray(load.mode)
    is_rate = mode == RATE
    rate = np.where(is_rate, np.asarray(load.value, dtype=float) / 1000.0, 0.0)
    conc = np.where(mode == CLOSED_LOOP, np.asarray(load.value, dtype=float), b_max)
    saturated = is_rate & (rate >= capacity * 0.999)
    b_rate = _open_loop_batch(coefs, sh, limits, rate, b_max) if np.any(is_rate) else b_max
    batch = np.where(is_rate, b_rate, np.minimum(conc, b_max))
    wave = np.where(mode == CLOSED_LOOP, wave_share(limits, batch, sh.computed), 0.0)
    t_dec, steps, one, t_pf, run = _cycle(coefs, batch, sh, limits, wave)
    lock = (mode == CLOSED_LOOP) & (np.asarray(limits.prefill_first) > 0)
    if np.any(lock):
        w_dec, w_pf, w_tpot, w_run = _waves(coefs, batch, sh, limits, wave)
        t_dec, t_pf, run = (
            np.where(lock, w_dec, t_dec),
            np.where(lock, w_pf, t_pf),
            np.where(lock, w_run, run),
        )
    else:
        w_tpot = t_dec
    throughput = np.where(is_rate, np.minimum(rate, capacity), batch / run)
    rho = np.minimum(np.where(is_rate, rate / capacity, 0.0), 0.999)
    servers = np.maximum(b_max, 1.0)
    p_wait = np.power(rho, np.sqrt(2.0 * (servers + 1.0)) - 1.0)
    cv2 = (load.arrival_cv2 + load.output_cv2) / 2.0
    q_open = limits.queue_factor * p_wait / (servers / run_max * (1.0 - rho)) * cv2
    # the prefill token budget is a server too: prompts queue for room in a step (M/D/1 on tokens)
    room = np.maximum(limits.max_num_batched_tokens - batch, 256.0)
    rho_pf = np.minimum(rate * sh.computed * t_dec / room, 0.95)
    q_prefill = load.arrival_cv2 * rho_pf * one / (2.0 * (1.0 - rho_pf))
    # engines that allocate KV blocks as tokens come (reserve < 1) admit a prompt when its own
    # blocks are free and preempt later, so users queue for a first token only when even the
    # prompts do not fit; the preemptions show in TPOT (the KV-limited batch), not in TTFT
    prompt_room = np.floor(limits.kv_cache_tokens / (sh.isl + limits.state_tokens))
    by_prompt = np.minimum(limits.max_num_seqs, prompt_room)
    admitted = np.where(np.asarray(limits.kv_output_reserve) < 1.0, np.maximum(by_prompt, batch), batch)
    q_closed = np.maximum(conc - admitted, 0.0) / np.maximum(batch / run, 1e-12)
    queue = np.where(is_rate, q_open + q_prefill, q_closed)
    queue = np.where(saturated, np.inf, queue)
    # closed-loop clients see their front end and the first token's trip out of the engine
    # (a step or two with overlap scheduling and streaming) on top of the engine's own TTFT
    closed = mode == CLOSED_LOOP
    front = np.where(closed, limits.closed_loop_overhead_ms + limits.first_token_steps * t_dec, 0.0)
    ttft = limits.request_overhead_ms + front + np.where(lock, 0.0, 0.5 * t_dec) + t_pf + queue
    tpot = np.where(lock, w_tpot, t_dec)
    e2e = ttft + (sh.osl - 1.0) * tpot
    return MeanResult(
        ttft_ms=ttft,
        tpot_ms=tpot,
        decode_step_ms=step_ms(
            coefs, batched_tokens=batch, kv_tokens=batch * sh.ctx, token_pairs=batch * sh.ctx
        ),
        prefill_ms=t_pf,
        queue_ms=queue,
        e2e_ms=e2e,
        output_tokens_per_s=throughput * sh.osl * 1000.0,
        requests_per_s=throughput * 1000.0,
        batch=batch,
        capacity_rps=capacity * 1000.0,
        saturated=saturated,
        prefill_steps=steps,
        prefill_step_ms=one,
    )
