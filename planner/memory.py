"""GPU memory: does a model fit, how many KV-cache tokens remain, how many sequences run at once.

Follows vLLM's start-up accounting (v0.19): the KV cache gets
`gpu_memory_utilization x visible memory - weights - peak activations - non-torch memory`
(CUDA graphs are captured inside that budget), rounded down to 16-token blocks. The activation and
non-torch terms are calibrated on the vLLM H100 start-up measurements (see `PerfParams`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import InvalidInputError
from planner.perf_model import (
    kv_bytes_per_token_per_gpu,
    kv_dtype_bytes,
    state_bytes_per_seq_per_gpu,
    weight_bytes,
)
from planner.perf_params import PerfParams
from planner.types import PRECISION_BYTES, AttentionKind, Engine, GpuSpec, ModelSpec, Precision

GIB = float(1 << 30)
TP_CHOICES = (1, 2, 4, 8, 16)


def tp_problem(model: ModelSpec, tp: int) -> str:
    """Why the serving engines cannot shard `model` over `tp` GPUs ('' when they can).

    vLLM (`ModelConfig.verify_with_parallel_config`) refuses a TP that does not divide the attention
    heads ("Total number of attention heads (28) must be divisible by tensor parallel size (8)"), and
    its QKV projection needs the KV heads to divide TP, or TP to divide them; TensorRT-LLM and SGLang
    split heads the same way. An MLA model's latent KV is replicated, so only its heads count.
    """
    heads, kv = model.num_attention_heads, model.num_kv_heads
    if heads > 0 and heads % tp:
        return f"its {heads} attention heads do not split evenly over {tp} GPUs"
    mla = model.attention == AttentionKind.MLA or model.kv_lora_rank > 0
    if not mla and kv > 0 and (tp % kv if tp >= kv else kv % tp):
        return f"its {kv} KV heads neither split evenly over {tp} GPUs nor replicate evenly across them"
    return ""


def valid_tps(model: ModelSpec, limit: int) -> list[int]:
    """The TP degrees (of TP_CHOICES, up to `limit`) the engines can shard `model` over."""
    return [tp for tp in TP_CHOICES if tp <= limit and not tp_problem(model, tp)]


def check_tp(model: ModelSpec, gpu: GpuSpec, tp: int) -> None:
    """Refuse a TP the engines cannot shard `model` over, naming the ones they can.

    Raises:
        InvalidInputError: `tp_problem` says why.
    """
    problem = tp_problem(model, tp) if tp >= 1 else ""
    if problem:
        *most, last = [str(t) for t in valid_tps(model, max(gpu.max_tensor_parallel, 1))] or ["1"]
        usable = f"{', '.join(most)} or {last}" if most else last
        raise InvalidInputError(
            f"tensor_parallel={tp} cannot serve {model.name}: {problem} (vLLM refuses it). Use --tp {usable}."
        )


@dataclass(frozen=True)
class MemoryPlan:
    """Memory budget of one replica, per GPU."""

    fits: bool
    reason: str  # empty when it fits
    weights_gib: float  # per GPU
    kv_bytes_per_token: float  # per GPU
    kv_cache_tokens: int  # per replica (all its GPUs together hold this many tokens)
    max_concurrency: int  # sequences of max_model_len (and their fixed state) that fit at once
    smallest_tp: int | None  # smallest TP that fits, None when none up to 16 does
    activation_gib: float = 0.0
    non_torch_gib: float = 0.0
    kv_cache_gib: float = 0.0
    # a hybrid's fixed per-sequence state, in KV tokens' worth of memory (0 for other models)
    state_tokens_per_seq: int = 0


def _check(tp: int, max_model_len: int, gpu_memory_utilization: float) -> None:
    if tp < 1:
        raise InvalidInputError(f"tensor_parallel must be 1 or more, got {tp}.")
    if max_model_len < 1:
        raise InvalidInputError(f"max_model_len must be positive, got {max_model_len}.")
    if not 0.05 <= gpu_memory_utilization <= 1.0:
        raise InvalidInputError(
            f"gpu_memory_utilization must be between 0.05 and 1.0, got {gpu_memory_utilization}."
        )


def activation_gib(model: ModelSpec, params: PerfParams) -> float:
    """Peak activation memory of vLLM's profiling run (logits dominate: it grows with the vocabulary)."""
    moe = params.activation_moe_gib if model.is_moe else 0.0
    return params.activation_base_gib + params.activation_gib_per_vocab * model.vocab_size + moe


def _budget(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine,
    gpu_memory_utilization: float,
    params: PerfParams,
    kv_bytes: float | None = None,
) -> tuple[float, float, float, float, float]:
    weights = weight_bytes(model, precision) / tp / GIB
    act = activation_gib(model, params)
    non_torch = params.non_torch_gib_tp1 if tp == 1 else params.non_torch_gib_tpn
    visible = gpu.memory_gib * params.usable_memory_fraction
    if engine == Engine.TENSORRT_LLM:  # kv_cache_free_gpu_mem_fraction: a share of what weights leave
        kv_gib = gpu_memory_utilization * (visible - weights - act - non_torch)
    else:
        kv_gib = gpu_memory_utilization * visible - weights - act - non_torch
    dtype_bytes = kv_bytes if kv_bytes is not None else kv_dtype_bytes(precision, engine, params)
    per_token = kv_bytes_per_token_per_gpu(model, tp=tp, kv_dtype_bytes=dtype_bytes)
    return weights, act, non_torch, kv_gib, per_token


def memory_plan(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    max_model_len: int,
    gpu_memory_utilization: float = 0.9,
    params: PerfParams,
    engine: Engine = Engine.VLLM,
    kv_cache_dtype_bytes: float | None = None,
) -> MemoryPlan:
    """Return whether the model fits on `tp` GPUs and the KV-cache capacity it leaves.

    `kv_cache_dtype_bytes` overrides the engine's KV dtype (1.0 for vLLM's kv_cache_dtype=fp8).

    Raises:
        InvalidInputError: tp, max_model_len or gpu_memory_utilization out of range.
    """
    _check(tp, max_model_len, gpu_memory_utilization)
    weights, act, non_torch, kv_gib, per_token = _budget(
        model,
        gpu,
        tp=tp,
        precision=precision,
        engine=engine,
        gpu_memory_utilization=gpu_memory_utilization,
        params=params,
        kv_bytes=kv_cache_dtype_bytes,
    )
    blocks = int(max(kv_gib, 0.0) * GIB // (per_token * params.block_size)) if per_token > 0 else 0
    tokens = blocks * params.block_size
    state = state_bytes_per_seq_per_gpu(model, tp=tp)
    state_tokens = math.ceil(state / per_token) if state > 0 and per_token > 0 else 0
    fits = tokens >= max_model_len + state_tokens
    smallest = (
        smallest_fitting_tp(
            model,
            gpu,
            precision=precision,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            params=params,
            engine=engine,
        )
        if not fits
        else tp
    )
    reason = (
        ""
        if fits
        else _reason(
            model,
            gpu,
            tp=tp,
            precision=precision,
            weights=weights,
            kv_gib=kv_gib,
            tokens=tokens,
            max_model_len=max_model_len,
            smallest=smallest,
            state_tokens=state_tokens,
        )
    )
    return MemoryPlan(
        fits=fits,
        reason=reason,
        weights_gib=round(weights, 3),
        kv_bytes_per_token=per_token,
        kv_cache_tokens=tokens,
        max_concurrency=tokens // (max_model_len + state_tokens),
        smallest_tp=smallest,
        activation_gib=round(act, 3),
        non_torch_gib=non_torch,
        kv_cache_gib=round(max(kv_gib, 0.0), 3),
        state_tokens_per_seq=state_tokens,
    )


def _reason(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    weights: float,
    kv_gib: float,
    tokens: int,
    max_model_len: int,
    smallest: int | None,
    state_tokens: int = 0,
) -> str:
    lower = [
        p.value for p in (Precision.FP8, Precision.INT4) if PRECISION_BYTES[p] < PRECISION_BYTES[precision]
    ]
    ways = ([f"a lower precision ({' or '.join(lower)})"] if lower else []) + ["a GPU with more memory"]
    fix = (
        f"Try tensor_parallel={smallest}"
        if smallest
        else f"No tensor_parallel up to 16 fits; try {' or '.join(ways)}"
    )
    if kv_gib <= 0:
        what = (
            f"{model.name} needs {weights:.1f} GiB of weights per GPU at {precision.value} with TP{tp}; "
            f"one {gpu.name} has {gpu.memory_gib:.0f} GiB and nothing is left for the KV cache."
        )
        return f"{what} {fix}."  # the weights alone do not fit: a shorter context cannot help
    else:
        what = (
            f"{model.name} at {precision.value} with TP{tp} on {gpu.name} leaves KV-cache room for "
            f"{tokens} tokens, fewer than one sequence of max_model_len={max_model_len}"
            + (f" plus its fixed state ({state_tokens} tokens' worth)." if state_tokens else ".")
        )
    return f"{what} {fix} or a shorter max_model_len."


def smallest_fitting_tp(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    precision: Precision,
    max_model_len: int,
    gpu_memory_utilization: float = 0.9,
    params: PerfParams,
    engine: Engine = Engine.VLLM,
) -> int | None:
    """Return the smallest TP (1, 2, 4, 8, 16, within the GPU's limit, one the model's heads split
    over: `tp_problem`) that fits, or None."""
    for tp in valid_tps(model, max(gpu.max_tensor_parallel, 1)):
        *_, kv_gib, per_token = _budget(
            model,
            gpu,
            tp=tp,
            precision=precision,
            engine=engine,
            gpu_memory_utilization=gpu_memory_utilization,
            params=params,
        )
        state_tokens = state_bytes_per_seq_per_gpu(model, tp=tp) / per_token
        if kv_gib > 0 and kv_gib * GIB / per_token >= max_model_len + state_tokens:
            return tp
    return None
