"""A fast, optimistic bound for screening thousands of model × GPU × precision × TP combinations.

The exact performance model (`planner.perf`) takes ~0.1 ms to set up one combination and ~6 ms to
find its SLO-bounded rate, too slow for the whole catalog (45 models × 16 GPUs × 3 precisions ×
4 TPs) inside a 200 ms plan. This module evaluates the same formulas the performance model starts
from (PERF_FACTS.md: weights and KV bytes, roofline step time, the calibrated efficiency factors in
`PerfParams`) with per-model and per-GPU terms computed once, and no queueing. It over-estimates
what a combination can do, so it only rules out what surely cannot work and orders the rest; the
shortlist is then sized by `perf.max_rate_under_slo` and checked by `perf.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.memory import activation_gib
from planner.perf_model import compute_tflops, kv_bytes_per_token, kv_dtype_bytes, weight_bytes
from planner.perf_params import PerfParams, gpu_family
from planner.perf_types import Workload
from planner.types import PRECISION_BYTES, AttentionKind, Engine, GpuSpec, ModelSpec, Precision, SloTargets

GIB = 1024.0**3
# The bound's averages (mean context, one prefill per request) differ from the exact model's in
# places; a margin keeps the bound above the exact rate (tests/planner/test_capacity.py checks it).
OPTIMISM = 1.25


@dataclass(frozen=True)
class Bound:
    """Optimistic figures of one combination: does it fit, the latency floors, the best rate."""

    fits: bool
    kv_cache_tokens: int
    floor_ttft_ms: float
    floor_tpot_ms: float
    rate_rps: float  # 0 when even a lone request misses the SLO
    why: str  # why it does not fit, or why the rate is 0
    likely_rate_rps: float = 0.0  # rate_rps less the queueing the TTFT target leaves room for (ordering only)


@dataclass(frozen=True)
class GpuTerms:
    """Per GPU type and precision: effective bandwidth and compute, all-reduce latency, memory."""

    gpu: GpuSpec
    bytes_per_ms: float
    flops_per_ms: float
    allreduce_ms: float
    kv_budget_gib: float  # memory the engine may use, before weights and activations
    step_overhead_ms: float
    max_num_seqs: int
    request_overhead_ms: float


@dataclass(frozen=True)
class ModelTerms:
    """Per model and precision: weights, active bytes and FLOPs, KV bytes per token."""

    model: ModelSpec
    precision: Precision
    weights_gib: float  # all GPUs together
    active_bytes: float
    flops_per_token: float
    attn_flops_per_pair: float
    kv_bytes_per_token: float  # all GPUs together
    kv_split_max: int  # KV heads shard over at most this many GPUs (1 for MLA)
    fixed_gib: float  # activations


def gpu_terms(gpu: GpuSpec, precision: Precision, *, params: PerfParams, engine: Engine) -> GpuTerms:
    """The GPU's side of the bound (compute once per GPU type and precision)."""
    fam = gpu_family(gpu)
    speed = params.engine_speed.get(engine.value, 1.0)
    return GpuTerms(
        gpu=gpu,
        bytes_per_ms=gpu.memory_bandwidth_gb_s * 1e9 * params.mbu.get(fam, 0.8) * speed / 1000.0,
        flops_per_ms=compute_tflops(gpu, precision) * 1e12 * params.mfu.get(fam, 0.45) * speed / 1000.0,
        allreduce_ms=params.allreduce_latency_us.get(gpu.interconnect.value, 30.0) / 1000.0,
        kv_budget_gib=params.kv_memory_fraction.get(engine.value, 0.9)
        * gpu.memory_gib
        * params.usable_memory_fraction,
        step_overhead_ms=params.step_overhead_ms.get(engine.value, 1.5),
        max_num_seqs=params.max_num_seqs.get(engine.value, 256),
        request_overhead_ms=params.request_overhead_ms.get(engine.value, 8.0),
    )


def model_terms(model: ModelSpec, precision: Precision, *, params: PerfParams, engine: Engine) -> ModelTerms:
    """The model's side of the bound (compute once per model and precision)."""
    mla = model.attention == AttentionKind.MLA or model.kv_lora_rank > 0
    return ModelTerms(
        model=model,
        precision=precision,
        weights_gib=weight_bytes(model, precision) / GIB,
        active_bytes=model.params_active_b * 1e9 * PRECISION_BYTES[precision],
        flops_per_token=2.0 * model.params_active_b * 1e9,
        attn_flops_per_pair=4.0 * model.kv_layers * model.num_attention_heads * model.head_dim,
        kv_bytes_per_token=kv_bytes_per_token(
            model, kv_dtype_bytes=kv_dtype_bytes(precision, engine, params)
        ),
        kv_split_max=1 if mla else max(model.num_kv_heads, 1),
        fixed_gib=activation_gib(model, params),
    )


@dataclass(frozen=True)
class Fit:
    """The SLO-independent side of one combination at a TP: does it fit, its step-time terms (ms).

    Depends on the model, GPU, precision, TP, workload and context length only, so what-ifs that change
    the SLO keep it (`capacity.screen` caches it) and redo only `bound_under`. One object per
    combination (no nested ones): thousands stay in a what-if cache, and each costs the garbage
    collector time."""

    tp: int
    fits: bool
    kv_cache_tokens: int
    why: str = ""  # why it does not fit
    base_ms: float = 0.0  # per step: overhead, weights read, all-reduce latency
    compute_ms_per_token: float = 0.0
    attn_ms_per_pair: float = 0.0
    kv_read_ms_per_token: float = 0.0
    max_num_seqs: int = 0
    request_overhead_ms: float = 0.0  # the engine's per-request overhead on this GPU

    def prefill_ms(self, input_tokens: float, prefix_tokens: float) -> float:
        fresh = input_tokens - prefix_tokens
        return (
            self.base_ms
            + fresh * self.compute_ms_per_token
            + fresh * input_tokens / 2 * self.attn_ms_per_pair
        )

    def per_seq_ms(self, ctx: float) -> float:
        return ctx * self.kv_read_ms_per_token + self.compute_ms_per_token + ctx * self.attn_ms_per_pair

    def step_ms(self, batch: float, ctx: float) -> float:
        return self.base_ms + batch * self.per_seq_ms(ctx)


def fit(
    m: ModelTerms, g: GpuTerms, *, tp: int, params: PerfParams, max_model_len: int, label_tp: int = 0
) -> Fit:
    """Memory and step-time terms of one combination at tensor parallelism `tp` (`label_tp`: the TP
    the row is reported at, when not `tp`)."""
    non_torch = params.non_torch_gib_tp1 if tp == 1 else params.non_torch_gib_tpn
    kv_gib = g.kv_budget_gib - m.weights_gib / tp - m.fixed_gib - non_torch
    kv_per_token = m.kv_bytes_per_token / min(tp, m.kv_split_max)
    kv_tokens = int(max(kv_gib, 0.0) * GIB / kv_per_token) if kv_per_token > 0 else 0
    if kv_tokens < max_model_len:
        why = (
            f"weights need {m.weights_gib / tp:,.1f} GiB per GPU at TP={tp}, leaving room for "
            f"{kv_tokens:,} KV tokens of the {max_model_len:,} one request needs "
            f"on a {g.gpu.memory_gib:g} GiB {g.gpu.id}"
        )
        return Fit(label_tp or tp, False, kv_tokens, why)
    base = (
        g.step_overhead_ms
        + m.active_bytes / tp / g.bytes_per_ms
        + (2 * m.model.num_layers * g.allreduce_ms if tp > 1 else 0.0)
    )
    return Fit(
        label_tp or tp,
        True,
        kv_tokens,
        "",
        base,
        m.flops_per_token / tp / g.flops_per_ms,
        m.attn_flops_per_pair / tp / g.flops_per_ms,
        kv_per_token / g.bytes_per_ms,
        g.max_num_seqs,
        g.request_overhead_ms,
    )


def bound_under(f: Fit, *, workload: Workload, slo: SloTargets) -> Bound:
    """The screening bound of a fitted combination under an SLO (microseconds: no memory arithmetic)."""
    if not f.fits:
        return Bound(False, f.kv_cache_tokens, 0.0, 0.0, 0.0, f.why)
    w = workload
    floor_ttft, floor_tpot = (
        f.prefill_ms(w.input_tokens, w.prefix_tokens),
        f.step_ms(1, w.input_tokens + w.output_tokens / 2),
    )
    rate, why = _rate(f, slo, w.input_tokens, w.output_tokens, w.prefix_tokens, overhead_ms=0.0)
    if rate <= 0:
        return Bound(True, f.kv_cache_tokens, floor_ttft, floor_tpot, 0.0, why)
    z = Z.get(slo.percentile, 1.645)
    likely, _ = _rate(
        f,
        slo,
        round(w.input_tokens + z * w.input_tokens_std),
        round(w.output_tokens + z * w.output_tokens_std),
        w.prefix_tokens,
        overhead_ms=f.request_overhead_ms,
        queueing=True,
    )
    return Bound(True, f.kv_cache_tokens, floor_ttft, floor_tpot, OPTIMISM * rate, "", likely)


def bound(
    m: ModelTerms,
    g: GpuTerms,
    *,
    tp: int,
    params: PerfParams,
    workload: Workload,
    slo: SloTargets,
    max_model_len: int,
) -> Bound:
    """The screening bound of one combination at tensor parallelism `tp` (see the module docstring)."""
    f = fit(m, g, tp=tp, params=params, max_model_len=max_model_len)
    return bound_under(f, workload=workload, slo=slo)


# z-scores of the SLO percentiles, for the request lengths at that percentile
Z = {"p50": 0.0, "p90": 1.2816, "p95": 1.6449, "p99": 2.3263}


def _rate(
    c: Fit,
    slo: SloTargets,
    input_tokens: int,
    output_tokens: int,
    prefix_tokens: int,
    *,
    overhead_ms: float,
    queueing: bool = False,
) -> tuple[float, str]:
    """Requests/s within TTFT, TPOT and e2e for requests of these lengths, or 0 and why.

    Without `queueing`: an upper bound (prefill hides under memory-bound decode steps, no waits).
    With it: a realistic guess (prefill adds to the decode work, TTFT keeps room for queueing: with a
    p95 wait of ~3× the mean, floor × (1 + 3ρ/(1−ρ)) ≤ target)."""
    ctx = input_tokens + output_tokens / 2
    ttft = overhead_ms + c.prefill_ms(input_tokens, prefix_tokens)
    step_lone = c.step_ms(1, ctx)
    if step_lone > slo.itl_ms:
        return 0.0, f"one decode step alone takes ~{step_lone:.0f} ms, over TPOT {slo.itl_ms:,g} ms"
    if ttft > slo.ttft_ms:
        return (
            0.0,
            f"a lone {input_tokens:,}-token prefill takes ~{ttft:,.0f} ms, over TTFT {slo.ttft_ms:,g} ms",
        )
    e2e_lone = ttft + (output_tokens - 1) * step_lone
    if e2e_lone > slo.e2e_ms:
        return 0.0, f"a lone request takes ~{e2e_lone:,.0f} ms end to end, over e2e {slo.e2e_ms:,.0f} ms"
    step_max = min(slo.itl_ms, (slo.e2e_ms - ttft) / max(output_tokens - 1, 1))
    batch = min(
        (step_max - c.base_ms) / c.per_seq_ms(ctx),
        c.max_num_seqs,
        c.kv_cache_tokens / (input_tokens + output_tokens),
    )
    step = c.step_ms(batch, ctx)
    fresh = input_tokens - prefix_tokens
    if not queueing:
        compute_rate = 1000.0 / ((fresh + output_tokens) * c.compute_ms_per_token)
        return min(1000.0 * batch / (output_tokens * step), compute_rate), ""
    k = slo.ttft_ms / ttft - 1.0
    rate = 1000.0 / (output_tokens * step / batch + (c.prefill_ms(input_tokens, prefix_tokens) - c.base_ms))
    return rate * k / (3.0 + k), ""
