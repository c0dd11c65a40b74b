"""Step time of one engine iteration: a calibrated roofline over weights, KV reads and compute.

One iteration (a continuous-batching step) reads the weights and the KV cache of every sequence
in it, and computes `batched_tokens` tokens plus attention over `token_pairs` (query, key) pairs:

    step_ms = overhead + [eager if batched_tokens > 512] + hypot(memory, compute)
    memory  = weights_read + kv_read_per_1k * kv_tokens / 1000
    compute = compute_per_token * batched_tokens + attn_per_1m * token_pairs / 1e6
              - gemm_per_token * batched_tokens * (1 - 1 / speedup)
    speedup = 1 + large_m_gain * batched_tokens / (batched_tokens + 1024)

The roofline is smooth (the Euclidean norm of the two times, not their maximum): a step is a
sequence of kernels, some bound by memory (attention over the KV cache, skinny GEMMs) and some by
compute, and the sum of each kernel's own maximum sits above the maximum of the sums, most where the
two are close. Against the hard maximum, held out on the benchmark rows this cut the error of
maximum-throughput tokens/s from 13.5% to 11.8% median (leave one GPU out) and of ITL from 15.6% to
14.9%; a pure bound (one term zero) keeps its value.

Token pairs of a prefill chunk = chunk_len x (tokens before the chunk + chunk_len / 2), the causal
average; of a decode sequence = its context. Tensor-parallel all-reduce is folded in: its latency
(2 per layer) into the overhead, its bandwidth into the per-token compute. For mixture-of-experts
models the expert weights read per step grow with the tokens in the step (`expert_fraction`), and
each MoE layer adds a routing/dispatch overhead proportional to the experts a token visits (top-k).
Engines replay steps of up to 512 tokens from captured CUDA graphs; a larger step (a prefill chunk)
runs eagerly and pays `eager_layer_us` of kernel launches per layer on top.

GEMMs run faster in large steps (prefill chunks of thousands of tokens) than at decode sizes, half
way there at 1,024 tokens: `large_m_gain` is the large-step speed-up less 1. At any precision full
tiles keep the tensor cores busy (`large_step_gemm_speed`); low-bit (fp8/fp4) GEMMs gain more on
top, from `low_bit_compute_eff` of their doubled peak at decode sizes, where per-token activation
quantization and small tiles cost most, to `low_bit_prefill_eff` in large steps. Held out on the
benchmark rows, the low-bit gain alone (against one efficiency for every step) cut the
maximum-throughput error from 13.8% to 12.9% median (leave one source out) and the TTFT error from
29.5% to 29.1%; the gain at every precision (fitted: up to 1.26x, 1.23x at 8k tokens) then cut TTFT from
28.7% to 28.5% median and 75.9% to 72.8% p90 (leave one source out; 28.1% to 27.6% and 81.5% to
79.4% leaving one GPU out), maximum throughput from 13.5% to 11.7% (11.1% to 10.3%) and ITL from
14.4% to 14.1%.

Every function here works on floats and on numpy arrays alike, so the calibration can evaluate
thousands of benchmark rows in one call with the same code the predictions use.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.errors import InvalidInputError
from planner.perf_params import PerfParams, gpu_family
from planner.types import PRECISION_BYTES, AttentionKind, Engine, GpuSpec, ModelSpec, Precision

LARGE_M_HALF = 1024.0  # step tokens at which low-bit GEMMs are half way to their large-step efficiency
GRAPH_TOKENS = 512  # largest step the engines replay from captured CUDA graphs (vLLM's default)
Num = Any  # float or numpy array: the same formulas serve one prediction and a whole calibration set


@dataclass(frozen=True)
class HardwareCosts:
    """Work per GPU of one model on one GPU type at one TP/precision, independent of the fit."""

    dense_read_bytes: float  # non-expert weights read every step, per GPU
    expert_read_bytes: float  # all expert weights, per GPU (0 for dense models)
    experts_per_token_fraction: float  # top-k / experts (0 for dense models)
    kv_bytes_per_token: float  # per GPU
    flops_per_token: float  # 2 x active params / TP
    attn_flops_per_pair: float  # 4 x layers x query dim / TP
    allreduces_per_step: int  # 2 per layer when TP > 1
    allreduce_bytes_per_token: float  # ring all-reduce traffic per token over one link
    bandwidth_gb_s: float
    tflops: float
    link_gb_s: float
    family: str
    engine: str
    link: str
    tp: int = 1
    moe_layers: int = 0  # layers with routed experts (0 for dense models)
    experts_per_token: float = 0.0  # routed experts each token visits (top-k)
    attn_tflops: float = 0.0  # attention (FlashAttention) runs in 16 bit whatever the weight precision
    fp4_tensor_cores: float = 0.0  # 1.0 for 4-bit weights on Blackwell (FP4 MMA at twice FP8's rate)
    weight_only_4bit: float = 0.0  # 1.0 for 4-bit weights without FP4 tensor cores (dequantized to 16 bit)
    layers: int = 0  # transformer layers (kernel launches of an eager, uncaptured step)
    window_tokens: float = 0.0  # sliding-window layers attend to this many recent tokens (0: none)
    window_share: float = 0.0  # share of the KV-cache layers that use the window


def kv_bytes_per_token(model: ModelSpec, *, kv_dtype_bytes: float = 2.0) -> float:
    """Return the KV-cache bytes of one token for the whole model (all layers, all GPUs)."""
    if model.attention == AttentionKind.MLA or model.kv_lora_rank > 0:
        return float(model.kv_layers * (model.kv_lora_rank + model.qk_rope_head_dim) * kv_dtype_bytes)
    return float(2 * model.kv_layers * model.num_kv_heads * model.head_dim * kv_dtype_bytes)


STATE_DTYPE_BYTES = 2.0  # a hybrid's recurrent state in the model's dtype (vLLM's mamba_cache_dtype "auto")


def state_bytes_per_seq_per_gpu(model: ModelSpec, *, tp: int) -> float:
    """Bytes of a hybrid's fixed per-sequence state one GPU holds (its heads split over TP); 0 if none."""
    return model.state_elements_per_seq * STATE_DTYPE_BYTES / tp


def kv_bytes_per_token_per_gpu(model: ModelSpec, *, tp: int, kv_dtype_bytes: float) -> float:
    """KV bytes one GPU stores per token: heads split over min(TP, KV heads); MLA is replicated."""
    total = kv_bytes_per_token(model, kv_dtype_bytes=kv_dtype_bytes)
    if model.attention == AttentionKind.MLA or model.kv_lora_rank > 0:
        return total
    return total / min(tp, max(model.num_kv_heads, 1))


def kv_dtype_bytes(precision: Precision, engine: Engine, params: PerfParams) -> float:
    """vLLM keeps a 16-bit KV cache by default; TensorRT-LLM's fp8 builds store it in fp8."""
    quantized = precision not in (Precision.BF16, Precision.FP16)
    return 1.0 if quantized and engine.value in params.fp8_kv_engines else 2.0


def embedding_params(model: ModelSpec) -> float:
    """Input embedding plus LM head (kept in 16 bit by quantized checkpoints)."""
    return min(2.0 * model.vocab_size * model.hidden_size, 0.3 * model.params_total_b * 1e9)


def weight_bytes(model: ModelSpec, precision: Precision) -> float:
    """Bytes of all weights (every expert) at a precision; embeddings stay 16-bit."""
    emb = embedding_params(model)
    per_weight = PRECISION_BYTES[precision]
    if precision == Precision.INT4:
        per_weight += 2.0 / 128  # one 16-bit scale per group of 128
    return (model.params_total_b * 1e9 - emb) * per_weight + emb * 2.0


def _expert_params(model: ModelSpec) -> float:
    if not model.is_moe or model.num_experts_active <= 0:
        return 0.0
    frac = model.num_experts_active / model.num_experts
    extra = (model.params_total_b - model.params_active_b) * 1e9
    return max(extra / (1.0 - frac), 0.0) if frac < 1 else 0.0


def fp4_compute(gpu: GpuSpec, precision: Precision, *, fp4_weights: bool = True) -> bool:
    """4-bit weights in an FP4 format (NVFP4/MXFP4) on Blackwell compute on its FP4 tensor cores;
    integer 4-bit weights (AWQ/GPTQ, INT4 QAT) and any 4-bit weights elsewhere are dequantized to 16 bit."""
    return (
        precision == Precision.INT4 and fp4_weights and gpu_family(gpu) == "blackwell" and gpu.fp8_tflops > 0
    )


def compute_tflops(gpu: GpuSpec, precision: Precision, *, fp4_weights: bool = True) -> float:
    """Dense tensor-core peak used at a precision (weight-only 4-bit weights compute in 16 bit)."""
    if precision in (Precision.FP8, Precision.INT8) and gpu.fp8_tflops > 0:
        return gpu.fp8_tflops
    if fp4_compute(gpu, precision, fp4_weights=fp4_weights):
        return 2.0 * gpu.fp8_tflops  # FP4 tensor cores (NVFP4/MXFP4) double the FP8 rate
    return gpu.bf16_tflops


def hardware_costs(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine,
    params: PerfParams,
    fp4_weights: bool | None = None,
) -> HardwareCosts:
    """Return the fit-independent work of one model on one GPU type. `fp4_weights`: whether its int4
    weights are in an FP4 format (NVFP4/MXFP4) that Blackwell computes in, or integers every GPU
    dequantizes to 16 bit (`fp4_compute`); by default what the model's checkpoint is (`int4_integer`).

    Raises:
        InvalidInputError: tp is not a positive integer.
    """
    if tp < 1:
        raise InvalidInputError(f"tensor_parallel must be 1 or more, got {tp}. Use --tp 1, 2, 4 or 8.")
    per_weight = PRECISION_BYTES[precision]
    experts = _expert_params(model)
    dense = model.params_total_b * 1e9 - experts - model.vocab_size * model.hidden_size
    b_act = 2.0
    allreduces = 2 * model.num_layers if tp > 1 else 0
    window = model.sliding_window or 0
    windowed = model.sliding_window_layers if window else 0
    ring = 2.0 * (tp - 1) / tp
    fp4_format = not model.int4_integer if fp4_weights is None else fp4_weights
    fp4 = fp4_compute(gpu, precision, fp4_weights=fp4_format)
    return HardwareCosts(
        dense_read_bytes=max(dense, 0.0) * per_weight / tp + model.vocab_size * model.hidden_size * 2.0 / tp,
        expert_read_bytes=experts * per_weight / tp,
        experts_per_token_fraction=(model.num_experts_active / model.num_experts) if model.is_moe else 0.0,
        kv_bytes_per_token=kv_bytes_per_token_per_gpu(
            model, tp=tp, kv_dtype_bytes=kv_dtype_bytes(precision, engine, params)
        ),
        flops_per_token=2.0 * model.params_active_b * 1e9 / tp,
        attn_flops_per_pair=4.0 * model.kv_layers * model.num_attention_heads * model.head_dim / tp,
        allreduces_per_step=allreduces,
        allreduce_bytes_per_token=allreduces * ring * model.hidden_size * b_act,
        bandwidth_gb_s=gpu.memory_bandwidth_gb_s,
        tflops=compute_tflops(gpu, precision, fp4_weights=fp4_format),
        link_gb_s=max(gpu.interconnect_gb_s, 1.0),
        family=gpu_family(gpu),
        engine=engine.value,
        link=gpu.interconnect.value,
        tp=tp,
        moe_layers=model.num_layers if model.is_moe else 0,
        experts_per_token=float(model.num_experts_active) if model.is_moe else 0.0,
        attn_tflops=gpu.bf16_tflops,
        fp4_tensor_cores=1.0 if fp4 else 0.0,
        weight_only_4bit=1.0 if precision == Precision.INT4 and not fp4 else 0.0,
        layers=model.num_layers,
        window_tokens=float(window) if windowed else 0.0,
        window_share=min(windowed / model.kv_layers, 1.0),
    )


@dataclass(frozen=True)
class StepCoefs:
    """Coefficients of the step-time formula, in ms (floats or arrays of one value per row)."""

    overhead_ms: Num
    dense_read_ms: Num
    expert_read_ms: Num
    expert_fraction: Num
    kv_read_ms_per_1k_tokens: Num
    compute_ms_per_token: Num
    attn_ms_per_1m_token_pairs: Num
    expert_spread: Num = 1.0  # distinct expert draws per token (routing favours popular experts)
    eager_ms: Num = 0.0  # launch overhead of a step too large for the captured CUDA graphs
    window_tokens: Num = 0.0  # sliding window of `window_share` of the attention layers (0: none)
    window_share: Num = 0.0
    gemm_ms_per_token: Num = 0.0  # the GEMM part of compute_ms_per_token (at decode-sized steps)
    large_m_gain: Num = 0.0  # GEMMs of large steps run (1 + gain) x faster (0: no change)

    @functools.cached_property
    def scalar(self) -> bool:
        """One configuration (plain numbers), not a stack of benchmark rows (arrays)."""
        return not any(isinstance(getattr(self, f.name), np.ndarray) for f in dataclasses.fields(self))


@dataclass(frozen=True)
class Efficiency:
    """Fitted factors of one configuration (floats, or arrays of one value per benchmark row)."""

    mbu: Num
    mfu: Num
    overhead_ms: Num
    allreduce_latency_us: Num
    allreduce_bw_eff: Num = 0.7
    tp_loss: float = 0.0  # efficiency / (1 + tp_loss x log2 TP): smaller shards run less efficiently
    large_step_gemm_speed: float = 1.0  # GEMMs of large steps run this much faster (any precision)
    kv_read_eff: float = 1.0  # attention kernels' share of the bandwidth weight reads reach
    moe_layer_overhead_us: float = 0.0  # router, dispatch and combine per MoE layer at top-4 (x top-k / 4)
    moe_compute_eff: float = 1.0  # grouped expert GEMMs (few tokens per expert) reach this share of mfu
    expert_spread: float = 1.0  # distinct expert draws per routed token (< 1: popular experts repeat)
    low_bit_compute_eff: float = 1.0  # fp8/fp4 GEMMs reach this share of mfu against their higher peak
    fp4_eff: float = 1.0  # FP4 GEMMs reach this share of their doubled peak (block scales, kernel maturity)
    eager_layer_us: float = 0.0  # launch overhead per layer of an eager (uncaptured) step
    w4a16_read_eff: float = 1.0  # weight-only 4-bit GEMMs stream weights at this share of the bandwidth
    low_bit_prefill_eff: float = 0.0  # low-bit GEMMs of large steps reach this share of mfu (0: as decode)


def step_coefs_from(hw: Any, eff: Efficiency) -> StepCoefs:
    """Turn hardware work (a HardwareCosts, or one with array fields) into step coefficients."""
    shard = 1.0 + eff.tp_loss * np.log2(np.maximum(hw.tp, 1.0))
    bw = hw.bandwidth_gb_s * 1e6 * np.minimum(eff.mbu, 1.0) / shard  # bytes per ms
    moe = np.where(hw.moe_layers > 0, eff.moe_compute_eff, 1.0)
    low_bit = np.where(hw.tflops > hw.attn_tflops, eff.low_bit_compute_eff, 1.0)  # fp8/fp4 tensor cores
    fp4 = np.where(hw.fp4_tensor_cores > 0, eff.fp4_eff, 1.0)
    flops = hw.tflops * 1e9 * np.minimum(eff.mfu, 1.0) * moe * low_bit * fp4 / shard  # flops per ms
    attn_flops = (
        np.where(hw.attn_tflops > 0, hw.attn_tflops, hw.tflops) * 1e9 * np.minimum(eff.mfu, 1.0) / shard
    )
    weights_bw = bw * np.where(hw.weight_only_4bit > 0, eff.w4a16_read_eff, 1.0)
    gain = np.where(
        (hw.tflops > hw.attn_tflops) & (eff.low_bit_prefill_eff > 0),
        np.maximum(eff.low_bit_prefill_eff / eff.low_bit_compute_eff * eff.large_step_gemm_speed - 1.0, 0.0),
        eff.large_step_gemm_speed - 1.0,
    )
    link = hw.link_gb_s * 1e6 * eff.allreduce_bw_eff
    comm_ms = hw.allreduces_per_step * eff.allreduce_latency_us / 1000.0
    return StepCoefs(
        overhead_ms=eff.overhead_ms
        + comm_ms
        + hw.moe_layers * eff.moe_layer_overhead_us * np.maximum(hw.experts_per_token, 1.0) / 4000.0,
        dense_read_ms=hw.dense_read_bytes / weights_bw,
        expert_read_ms=hw.expert_read_bytes / weights_bw,
        expert_fraction=hw.experts_per_token_fraction,
        kv_read_ms_per_1k_tokens=1000.0 * hw.kv_bytes_per_token / (bw * eff.kv_read_eff),
        compute_ms_per_token=hw.flops_per_token / flops + hw.allreduce_bytes_per_token / link,
        attn_ms_per_1m_token_pairs=1e6 * hw.attn_flops_per_pair / attn_flops,
        expert_spread=eff.expert_spread,
        eager_ms=hw.layers * eff.eager_layer_us / 1000.0,
        window_tokens=hw.window_tokens,
        window_share=hw.window_share,
        gemm_ms_per_token=hw.flops_per_token / flops,
        large_m_gain=gain if np.ndim(gain) else float(gain),
    )


def efficiency(params: PerfParams, *, family: Any, engine: Any, link: Any, lookup: Any = None) -> Efficiency:
    """The fitted factors for a family/engine/link (or arrays of them, with `lookup`)."""
    get = lookup or (lambda keys, table, default: table.get(keys, default))
    speed = get(engine, params.engine_speed, 1.0)
    return Efficiency(
        mbu=get(family, params.mbu, params.mbu["other"]) * speed,
        mfu=get(family, params.mfu, params.mfu["other"]) * speed,
        overhead_ms=get(engine, params.step_overhead_ms, 1.5),
        allreduce_latency_us=get(link, params.allreduce_latency_us, 30.0),
        allreduce_bw_eff=get(link, params.allreduce_bw_eff, 0.5),
        tp_loss=params.tp_loss,
        large_step_gemm_speed=params.large_step_gemm_speed,
        kv_read_eff=params.kv_read_eff,
        moe_layer_overhead_us=params.moe_layer_overhead_us,
        moe_compute_eff=params.moe_compute_eff,
        expert_spread=params.expert_spread,
        low_bit_compute_eff=params.low_bit_compute_eff,
        fp4_eff=params.fp4_eff,
        w4a16_read_eff=params.w4a16_read_eff,
        eager_layer_us=params.eager_layer_us,
        low_bit_prefill_eff=params.low_bit_prefill_eff,
    )


def step_coefs(hw: HardwareCosts, params: PerfParams) -> StepCoefs:
    """Step coefficients of one configuration under a parameter set."""
    return step_coefs_from(hw, efficiency(params, family=hw.family, engine=hw.engine, link=hw.link))


def expert_layers(hw: Any) -> Num:
    """Routed experts x MoE layers of a HardwareCosts (or one with array fields); 0 when dense."""
    frac = hw.experts_per_token_fraction
    if isinstance(frac, np.ndarray):
        return np.where(frac > 0, hw.moe_layers * hw.experts_per_token / np.maximum(frac, 1e-12), 0.0)
    return float(hw.moe_layers * hw.experts_per_token / frac) if frac > 0 else 0.0


def experts_touched(coefs: StepCoefs, tokens: Num) -> Num:
    """Share of the expert weights a step with `tokens` tokens reads (each token picks top-k)."""
    return 1.0 - np.power(1.0 - coefs.expert_fraction, np.maximum(tokens * coefs.expert_spread, 1.0))


def step_ms(coefs: StepCoefs, *, batched_tokens: Num, kv_tokens: Num, token_pairs: Num) -> Num:
    """Time of one engine iteration, ms (the module docstring's formula)."""
    if coefs.scalar and not (
        type(batched_tokens) is np.ndarray or type(kv_tokens) is np.ndarray or type(token_pairs) is np.ndarray
    ):
        return _scalar_step_ms(coefs, float(batched_tokens), float(kv_tokens), float(token_pairs))
    weights = coefs.dense_read_ms
    frac = coefs.expert_fraction
    if frac.any() if isinstance(frac, np.ndarray) else frac:  # dense models skip the expert term
        weights = weights + coefs.expert_read_ms * experts_touched(coefs, batched_tokens)
    window = coefs.window_tokens
    if window.any() if isinstance(window, np.ndarray) else window:  # sliding-window layers read only
        reach = batched_tokens * window  # the last `window` keys of every query token
        kv_tokens = kv_tokens - coefs.window_share * np.maximum(kv_tokens - reach, 0.0)
        token_pairs = token_pairs - coefs.window_share * np.maximum(token_pairs - reach, 0.0)
    memory = weights + coefs.kv_read_ms_per_1k_tokens * kv_tokens / 1000.0
    compute = (
        coefs.compute_ms_per_token * batched_tokens + coefs.attn_ms_per_1m_token_pairs * token_pairs / 1e6
    )
    gain = coefs.large_m_gain
    if gain.any() if isinstance(gain, np.ndarray) else gain:
        speed = 1.0 + gain * batched_tokens / (batched_tokens + LARGE_M_HALF)
        compute = compute - coefs.gemm_ms_per_token * batched_tokens * (1.0 - 1.0 / speed)
    eager = np.where(batched_tokens > GRAPH_TOKENS, coefs.eager_ms, 0.0)
    return coefs.overhead_ms + eager + np.hypot(memory, compute)


def _scalar_step_ms(coefs: StepCoefs, batched: float, kv: float, pairs: float) -> float:
    """`step_ms` of one configuration in plain floats (a prediction calls it dozens of times; numpy's
    per-call cost on scalars would dominate). The same formula, term for term."""
    weights = float(coefs.dense_read_ms)
    frac = float(coefs.expert_fraction)
    if frac:
        draws = max(batched * float(coefs.expert_spread), 1.0)
        weights += float(coefs.expert_read_ms) * (1.0 - (1.0 - frac) ** draws)
    window = float(coefs.window_tokens)
    if window:
        reach, share = batched * window, float(coefs.window_share)
        kv -= share * max(kv - reach, 0.0)
        pairs -= share * max(pairs - reach, 0.0)
    memory = weights + float(coefs.kv_read_ms_per_1k_tokens) * kv / 1000.0
    attention = float(coefs.attn_ms_per_1m_token_pairs) * pairs / 1e6
    compute = float(coefs.compute_ms_per_token) * batched + attention
    gain = float(coefs.large_m_gain)
    if gain:
        speed = 1.0 + gain * batched / (batched + LARGE_M_HALF)
        compute -= float(coefs.gemm_ms_per_token) * batched * (1.0 - 1.0 / speed)
    eager = float(coefs.eager_ms) if batched > GRAPH_TOKENS else 0.0
    return float(coefs.overhead_ms) + eager + math.hypot(memory, compute)
