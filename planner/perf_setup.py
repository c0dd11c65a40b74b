"""Inputs shared by the prediction paths: the replica's engine limits, its load, its context length."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from planner.memory import MemoryPlan, memory_plan
from planner.perf_model import HardwareCosts, Num, expert_layers
from planner.perf_params import MOE_REFERENCE_EXPERT_LAYERS, PerfParams
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


def runs_bench_build(engine: Engine, mode: Num) -> bool:
    """TensorRT-LLM's maximum-throughput runs use trtllm-bench's build settings, not serving defaults."""
    return engine == Engine.TENSORRT_LLM and int(mode) == MAX_THROUGHPUT


def run_limits(
    engine: Engine,
    gpu: GpuSpec | None,
    params: PerfParams,
    *,
    mode: int,
    kv_cache_tokens: float,
    input_tokens: float,
    output_tokens: float,
) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) of one run: the engine's defaults on the GPU, or
    trtllm-bench's build settings for the lengths (`runs_bench_build`)."""
    if runs_bench_build(engine, mode):
        return trtllm_bench_limits(kv_cache_tokens, input_tokens, output_tokens)
    return scheduler_limits(engine, gpu, params)


def bench_limits(limits: Limits, engine: Engine, load: Load) -> Limits:
    """`limits` with trtllm-bench's build settings when the run uses them (`runs_bench_build`)."""
    if not runs_bench_build(engine, load.mode):
        return limits
    seqs, budget = trtllm_bench_limits(
        float(limits.kv_cache_tokens), float(load.input_tokens), float(load.output_tokens)
    )
    return replace(limits, max_num_seqs=float(seqs), max_num_batched_tokens=float(budget))


def scheduler_limits(engine: Engine, gpu: GpuSpec | None, params: PerfParams) -> tuple[int, int]:
    """(max_num_seqs, max_num_batched_tokens) an engine runs with on a GPU by default.

    vLLM's API server (`get_batch_defaults`, v0.8-v0.27) uses 8192 tokens per step on GPUs of
    70 GiB or more except A100s, and 2048 below; SGLang sizes `chunked_prefill_size` by GPU memory
    (`server_args._handle_gpu_memory_settings`): 2048 under 35 GiB, 4096 under 60 GiB (A100-40GB,
    L40S), 8192 under 160 GiB, 16384 above (B200, B300, GB200, MI300X). Other engines, and no GPU
    given: the parameter set's values. vLLM's sequences stay at the parameter set's 256, which the
    rendered manifests pin (`--max-num-seqs`), though its own default on GPUs of 70 GiB or more
    (A100s aside) is 1024; the calibration's closed-loop rows admit their whole concurrency anyway.
    """
    seqs = params.max_num_seqs.get(engine.value, 256)
    budget = params.max_num_batched_tokens.get(engine.value, 8192)
    if gpu is None:
        return seqs, budget
    mem = gpu.memory_gib
    if engine == Engine.VLLM and (mem < 70 or "a100" in gpu.id.lower()):
        budget = min(budget, 2048)
    elif engine == Engine.SGLANG:
        budget = 2048 if mem < 35 else 4096 if mem < 60 else 8192 if mem < 160 else 16384
    return seqs, budget


def engine_limits(
    params: PerfParams,
    get: Callable[[dict[str, float], float], Num],
    *,
    kv_tokens: Num,
    max_num_seqs: Num,
    max_num_batched_tokens: Num,
    moe_expert_layers: Num,
    state_tokens: Num = 0.0,
) -> Limits:
    """Limits from the per-engine parameter tables; `get(table, default)` reads a table for one
    engine (a prediction) or for an array of rows' engines (the calibration). `moe_expert_layers` is
    routed experts x MoE layers (0 for a dense model): MoE stacks add fixed TTFT in proportion.
    `state_tokens` is a hybrid's fixed per-sequence state in KV tokens' worth (`MemoryPlan`)."""
    return Limits(
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        kv_cache_tokens=kv_tokens,
        request_overhead_ms=get(params.request_overhead_ms, 8.0)
        + get(params.moe_request_overhead_ms, 20.0) * moe_expert_layers / MOE_REFERENCE_EXPERT_LAYERS,
        queue_factor=params.queue_factor,
        closed_loop_wave=get(params.closed_loop_wave, 0.3),
        closed_loop_lockstep=get(params.closed_loop_lockstep, 0.0),
        first_token_steps=get(params.first_token_steps, 1.0),
        closed_loop_overhead_ms=get(params.closed_loop_overhead_ms, 30.0),
        kv_output_reserve=get(params.kv_output_reserve, 1.0),
        prefill_first=get(dict.fromkeys(params.prefill_first_engines, 1.0), 0.0),
        state_tokens=state_tokens,
    )


def limits_for(
    engine: Engine,
    params: PerfParams,
    kv_tokens: int,
    *,
    expert_layers: float = 0.0,
    gpu: GpuSpec | None = None,
    state_tokens: int = 0,
) -> Limits:
    """Engine limits of one replica with `kv_tokens` of KV cache (on `gpu`: its scheduler defaults)
    and `state_tokens` of fixed state per sequence (a hybrid's; `MemoryPlan.state_tokens_per_seq`)."""
    seqs, budget = scheduler_limits(engine, gpu, params)
    return engine_limits(
        params,
        lambda table, default: float(table.get(engine.value, default)),
        kv_tokens=float(max(kv_tokens, 1)),
        max_num_seqs=float(seqs),
        max_num_batched_tokens=float(budget),
        moe_expert_layers=expert_layers,
        state_tokens=float(state_tokens),
    )


def replica_limits(
    engine: Engine, params: PerfParams, plan: MemoryPlan, hw: HardwareCosts, gpu: GpuSpec
) -> Limits:
    """Engine limits of one replica from its memory plan (KV tokens, a hybrid's per-sequence state)
    and its hardware costs (an MoE stack's fixed TTFT)."""
    return limits_for(
        engine,
        params,
        plan.kv_cache_tokens,
        expert_layers=expert_layers(hw),
        gpu=gpu,
        state_tokens=plan.state_tokens_per_seq,
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
