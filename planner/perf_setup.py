"""Inputs shared by the prediction paths: the replica's engine limits, its load, its context length."""

from __future__ import annotations

import math
from dataclasses import replace

from planner.memory import MemoryPlan, memory_plan
from planner.perf_params import PerfParams, request_overhead_ms
from planner.perf_types import Arrival, Workload
from planner.serving import CLOSED_LOOP, MAX_THROUGHPUT, RATE, Limits, Load
from planner.types import ArrivalKind, Engine, GpuSpec, ModelSpec, Precision


def max_model_len(model: ModelSpec, workload: Workload) -> int:
    """Context length to plan memory for: prompt + output, plus three standard deviations."""
    need = workload.input_tokens + workload.output_tokens
    need += 3 * (workload.input_tokens_std + workload.output_tokens_std)
    return int(min(max(need, 1), max(model.max_context_tokens, need)))


def engine_memory_plan(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine,
    max_model_len: int,
    params: PerfParams,
) -> MemoryPlan:
    """The memory plan of one replica with the engine's share of GPU memory (vLLM's
    gpu_memory_utilization, TensorRT-LLM's KV fraction, ...) as fitted."""
    return memory_plan(
        model,
        gpu,
        tp=tp,
        precision=precision,
        max_model_len=max_model_len,
        gpu_memory_utilization=params.kv_memory_fraction.get(engine.value, 0.9),
        params=params,
        engine=engine,
    )


def trtllm_bench_limits(kv_cache_tokens: float, input_tokens: float, output_tokens: float) -> tuple[int, int]:
    """(max batch size, max num tokens) trtllm-bench builds for a dataset's ISL/OSL.

    TensorRT-LLM's `bench/build/tuning.py` (`finetune_setting`): the batch is the requests whose
    ISL + OSL fit in the KV cache (at most 4096), rounded up "slightly optimistic"; the token budget
    is that batch x (1 + ISL/OSL), at most 32768, rounded up, at least 2048. Its published
    maximum-throughput rows ran with these, not with the serving defaults.
    """
    raw_bs = min(max(kv_cache_tokens, 1.0) / max(input_tokens + output_tokens, 1.0), 4096.0)
    if raw_bs < 256:
        max_bs = max(64, 32 * math.ceil(raw_bs / 32))
    elif raw_bs < 1024:
        max_bs = 128 * math.ceil(raw_bs / 128)
    else:
        max_bs = 256 * math.ceil(raw_bs / 256)
    raw_token = min(raw_bs * (1.0 + input_tokens / max(output_tokens, 1.0)), 32768.0)
    if raw_token < 4096:
        max_token = max(2048, 256 * math.ceil(raw_token / 256))
    elif raw_token < 8192:
        max_token = 512 * math.ceil(raw_token / 512)
    else:
        max_token = 1024 * math.ceil(raw_token / 1024)
    return max_bs, max_token


def bench_limits(limits: Limits, engine: Engine, load: Load) -> Limits:
    """At maximum throughput TensorRT-LLM runs with trtllm-bench's build settings for the lengths."""
    if engine != Engine.TENSORRT_LLM or int(load.mode) != MAX_THROUGHPUT:
        return limits
    seqs, budget = trtllm_bench_limits(
        float(limits.kv_cache_tokens), float(load.input_tokens), float(load.output_tokens)
    )
    return replace(limits, max_num_seqs=float(seqs), max_num_batched_tokens=float(budget))


def scheduler_limits(engine: Engine, gpu: GpuSpec | None, params: PerfParams) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) an engine runs with on a GPU by default.

    vLLM's API server (`get_batch_defaults`, v0.8-v0.27) uses 8192 tokens per step on GPUs of
    70 GiB or more except A100s, and 2048 below; SGLang sizes `chunked_prefill_size` by GPU memory:
    2048 under 35 GiB, 8192 under 160 GiB, 16384 above (B200, B300, GB200, MI300X). Other engines,
    and no GPU given: the parameter set's values.
    """
    seqs = params.max_num_seqs.get(engine.value, 256)
    budget = params.max_num_batched_tokens.get(engine.value, 8192)
    if gpu is None:
        return seqs, budget
    mem = gpu.memory_gib
    if engine == Engine.VLLM and (mem < 70 or "a100" in gpu.id.lower()):
        budget = min(budget, 2048)
    elif engine == Engine.SGLANG:
        budget = 2048 if mem < 35 else 8192 if mem < 160 else 16384
    return seqs, budget


def limits_for(
    engine: Engine,
    params: PerfParams,
    kv_tokens: int,
    *,
    is_moe: bool,
    top_k: float = 4.0,
    gpu: GpuSpec | None = None,
) -> Limits:
    """Engine limits of one replica with `kv_tokens` of KV cache (on `gpu`: its scheduler defaults)."""
    e = engine.value
    seqs, budget = scheduler_limits(engine, gpu, params)
    return Limits(
        max_num_seqs=float(seqs),
        max_num_batched_tokens=float(budget),
        kv_cache_tokens=float(max(kv_tokens, 1)),
        request_overhead_ms=request_overhead_ms(params, e, is_moe=is_moe, top_k=top_k),
        queue_factor=params.queue_factor,
        closed_loop_wave=params.closed_loop_wave.get(e, 0.3),
        first_token_steps=params.first_token_steps.get(e, 1.0),
        closed_loop_overhead_ms=params.closed_loop_overhead_ms.get(e, 30.0),
        kv_output_reserve=params.kv_output_reserve.get(e, 1.0),
        prefill_first=float(e in params.prefill_first_engines),
    )


def load_for(workload: Workload, arrival: Arrival, replicas: int) -> Load:
    """One replica's share of the load (rate or users split evenly over the replicas)."""
    if arrival.kind == ArrivalKind.CLOSED_LOOP:
        mode, value, cv2 = CLOSED_LOOP, (arrival.concurrency or 1) / replicas, 0.0
    elif arrival.kind == ArrivalKind.MAX_THROUGHPUT:
        mode, value, cv2 = MAX_THROUGHPUT, 0.0, 0.0
    else:
        mode, value = RATE, (arrival.rate_rps or 0.0) / replicas
        cv2 = 1.0 if arrival.kind == ArrivalKind.POISSON else 0.0
    out_cv2 = (workload.output_tokens_std / workload.output_tokens) ** 2
    return Load(
        input_tokens=float(workload.input_tokens),
        output_tokens=float(workload.output_tokens),
        prefix_tokens=float(workload.prefix_tokens),
        mode=mode,
        value=value,
        arrival_cv2=cv2,
        output_cv2=out_cv2,
    )
