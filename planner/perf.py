"""The performance model's facade: memory, step times and serving dynamics behind a few calls.

    predict(model, gpu, tp=..., workload=..., arrival=..., params=...) -> Prediction
    max_rate_under_slo(...) -> requests/s one replica sustains within an SLO (fast, analytic)
    step_profile(...) -> StepProfile, the coefficients the vLLM simulator steps with
    memory_plan(...) -> MemoryPlan

Throughput and means come from the calibrated mean-value model (`planner.serving`); percentiles
either closed-form (`planner.perf_tail`) or, when `percentiles=True`, from a seeded discrete-event
simulation of the engine (`planner.simulation`): ITL/TPOT percentiles are its per-token gaps
(pure-decode and prefill-carrying steps each keep their own duration), open-loop TTFT/e2e
percentiles its per-request times; closed-loop TTFT/e2e keep its percentile/mean ratios on the
calibrated means. Under open arrivals the latency means are the simulation's too, so that a mean
never contradicts its own percentiles (the mean-value queue runs low near capacity).
A rate beyond capacity is `saturated`: TTFT and e2e then have no steady state and are reported
as inf (null in JSON), with a note; TPOT/ITL and throughput stay at their full-batch values.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.errors import InvalidInputError
from planner.memory import MemoryPlan, check_tp, memory_plan, smallest_fitting_tp
from planner.perf_model import (
    GRAPH_TOKENS,
    LARGE_M_HALF,
    STATE_DTYPE_BYTES,
    HardwareCosts,
    StepCoefs,
    expert_layers,
    hardware_costs,
    step_coefs,
)
from planner.perf_params import PerfParams, default_params, expected_error, request_overhead_ms
from planner.perf_setup import (
    bench_limits,
    engine_memory_plan,
    load_for,
    max_model_len,
    replica_limits,
    scheduler_limits,
)
from planner.perf_slo import max_rate_under_slo
from planner.perf_tail import tail
from planner.perf_types import (
    PERCENTILES,
    Arrival,
    Breakdown,
    LatencyStats,
    Prediction,
    StepProfile,
    Workload,
)
from planner.plan import ACCURACY_NOTE_START
from planner.serving import (
    CLOSED_LOOP,
    MAX_THROUGHPUT,
    MeanResult,
    mean_value,
)
from planner.types import Engine, GpuSpec, ModelSpec, Precision
from planner.waves import wave_shapes

__all__ = [
    "Arrival",
    "Breakdown",
    "LatencyStats",
    "MemoryPlan",
    "PerfParams",
    "Prediction",
    "StepProfile",
    "Workload",
    "default_params",
    "max_rate_under_slo",
    "memory_plan",
    "predict",
    "smallest_fitting_tp",
    "step_profile",
]

INF = float("inf")


def step_profile(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    precision: Precision,
    engine: Engine = Engine.VLLM,
    params: PerfParams,
    max_model_len: int,
) -> StepProfile:
    """Step-time coefficients of one replica (MoE expert reads taken at a full batch of max_num_seqs).

    Raises:
        InvalidInputError: tp or max_model_len out of range, or a tp the model's heads do not split over.
    """
    check_tp(model, gpu, tp)
    hw = hardware_costs(model, gpu, tp=tp, precision=precision, engine=engine, params=params)
    c = step_coefs(hw, params)
    plan = engine_memory_plan(
        model, gpu, tp=tp, precision=precision, engine=engine, max_model_len=max_model_len, params=params
    )
    seqs, budget = scheduler_limits(engine, gpu, params)
    touched = 1.0 - (1.0 - float(c.expert_fraction)) ** max(seqs * params.expert_spread, 1.0)
    return StepProfile(
        step_overhead_ms=float(c.overhead_ms),
        weights_read_ms=float(c.dense_read_ms + c.expert_read_ms * touched),
        kv_read_ms_per_1k_tokens=float(c.kv_read_ms_per_1k_tokens),
        compute_ms_per_token=float(c.compute_ms_per_token),
        attn_ms_per_1m_token_pairs=float(c.attn_ms_per_1m_token_pairs),
        kv_cache_tokens=plan.kv_cache_tokens,
        max_num_seqs=seqs,
        max_num_batched_tokens=budget,
        block_size=params.block_size,
        eager_step_ms=float(c.eager_ms),
        graph_max_tokens=GRAPH_TOKENS,
        window_tokens=int(c.window_tokens),
        window_share=float(c.window_share),
        state_blocks_per_seq=-(-plan.state_tokens_per_seq // params.block_size),
        gemm_ms_per_token=float(c.gemm_ms_per_token),
        large_step_speedup=float(c.large_m_gain),
        large_step_half_tokens=int(LARGE_M_HALF),
    )


def check_engine(gpu: GpuSpec, engine: Engine) -> None:
    """TensorRT-LLM runs on NVIDIA GPUs only.

    Raises:
        InvalidInputError: the engine does not run on the GPU's vendor (the message names those that do).
    """
    if engine is Engine.TENSORRT_LLM and gpu.vendor != "nvidia":
        raise InvalidInputError(
            f"TensorRT-LLM runs on NVIDIA GPUs only and {gpu.id} is {gpu.vendor.upper()}'s; "
            "use --engine vllm, sglang or tgi"
        )


def _hybrid_note(model: ModelSpec, plan: MemoryPlan) -> str:
    """What a hybrid's memory holds: KV for its attention layers, a fixed state per sequence."""
    head = f"hybrid: KV cache for {model.kv_layers} of {model.num_layers} layers; the other layers keep "
    if not plan.state_tokens_per_seq:
        return head + "a per-sequence state the catalog does not size, so max_concurrency may be optimistic"
    mib = model.state_elements_per_seq * STATE_DTYPE_BYTES / 2**20
    return (
        head + f"a fixed state of {mib:,.0f} MiB per sequence (split over TP), counted as "
        f"{plan.state_tokens_per_seq:,} KV tokens' worth each"
    )


def _confidence(hw: HardwareCosts, params: PerfParams) -> str:
    rows = params.fit_info.get("rows_by_family_engine", {})
    if not rows:
        return "uncalibrated: PERF_FACTS priors (run `predeploy calibrate`)"
    n = int(rows.get(f"{hw.family}/{hw.engine}", 0))
    if n:
        return f"calibrated on {n} benchmark rows for {hw.family} / {hw.engine}"
    fam = sum(int(v) for k, v in rows.items() if k.startswith(f"{hw.family}/"))
    if fam:
        return f"partly extrapolated: {fam} rows for {hw.family} GPUs, none with {hw.engine}"
    return f"extrapolated: no benchmark for the {hw.family} GPU family (datasheet figures and priors)"


def accuracy_note(params: PerfParams) -> str | None:
    """How far off a prediction typically is: the held-out error `predeploy calibrate` measured."""
    ttft, tpot = expected_error(params, "ttft_ms"), expected_error(params, "itl_tpot_ms")
    if ttft is None or tpot is None:
        return None
    return (
        f"{ACCURACY_NOTE_START} (mean latencies, held out on published benchmarks): TTFT ±{ttft[0]:.0f}% "
        f"(1 in 10 off by more than {ttft[1]:.0f}%), TPOT/ITL ±{tpot[0]:.0f}% "
        f"(1 in 10 more than {tpot[1]:.0f}%)"
    )


def _breakdown(
    r: MeanResult, coefs: StepCoefs, hw: HardwareCosts, params: PerfParams, osl: float
) -> Breakdown:
    steps = float(r.prefill_steps) + max(osl - 1.0, 0.0)
    lat = params.allreduce_latency_us.get(hw.link, 30.0) * hw.allreduces_per_step / 1000.0
    comm_step = lat + hw.allreduce_bytes_per_token * float(r.batch) / (
        hw.link_gb_s * 1e6 * params.allreduce_bw_eff.get(hw.link, 0.5)
    )
    engine_ovh = float(coefs.overhead_ms) - lat
    per_step = engine_ovh + comm_step
    queue = float(r.queue_ms)
    request = request_overhead_ms(params, hw.engine, expert_layers=expert_layers(hw))
    # closed loops: the client's front end and the first token's trip out of the engine
    front = max(float(r.ttft_ms) - request - 0.5 * float(r.tpot_ms) - float(r.prefill_ms) - queue, 0.0)
    return Breakdown(
        prefill_ms=max(float(r.prefill_ms) - per_step * float(r.prefill_steps), 0.0),
        decode_ms=max((osl - 1.0) * (float(r.tpot_ms) - per_step), 0.0),
        comm_ms=comm_step * steps,
        overhead_ms=request + front + engine_ovh * steps + 0.5 * float(r.tpot_ms),
        queue_ms=queue,
    )


def _simulated(b: Breakdown, r: MeanResult, values: dict[str, dict[str, float]]) -> Breakdown:
    """With the simulation's means, its extra TTFT is queueing and its extra decode time is prefill
    interference: the breakdown still adds up to the reported e2e mean."""
    ttft, e2e = values["ttft"].get("mean"), values["e2e"].get("mean")
    if ttft is None or e2e is None:
        return b
    decode = (e2e - ttft) - (float(r.e2e_ms) - float(r.ttft_ms))
    return replace(
        b,
        queue_ms=max(b.queue_ms + ttft - float(r.ttft_ms), 0.0),
        decode_ms=max(b.decode_ms + decode, 0.0),
    )


def _stats(mean: float, values: dict[str, float]) -> LatencyStats:
    """Percentiles made monotone; the mean is the simulation's when it gave one ("mean")."""
    ordered = np.maximum.accumulate([values[p] for p in PERCENTILES])
    return LatencyStats(values.get("mean", mean), *(float(v) for v in ordered))


def predict(
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tp: int,
    replicas: int = 1,
    precision: Precision,
    engine: Engine = Engine.VLLM,
    workload: Workload,
    arrival: Arrival,
    params: PerfParams,
    percentiles: bool = True,
    seed: int = 0,
) -> Prediction:
    """Predict latency percentiles and throughput of `replicas` replicas of TP `tp` under a load.

    Raises:
        InvalidInputError: non-positive tp or replicas, or a tp the model's attention heads do not
            split over (workload and arrival check themselves).
    """
    if replicas < 1:
        raise InvalidInputError(f"replicas must be 1 or more, got {replicas}.")
    check_engine(gpu, engine)
    check_tp(model, gpu, tp)
    hw = hardware_costs(model, gpu, tp=tp, precision=precision, engine=engine, params=params)
    plan = engine_memory_plan(
        model,
        gpu,
        tp=tp,
        precision=precision,
        engine=engine,
        max_model_len=max_model_len(model, workload),
        params=params,
    )
    notes = [_confidence(hw, params)]
    if model.attention_layers:
        notes.append(_hybrid_note(model, plan))
    if hw.weight_only_4bit:
        why = "integer weights" if model.int4_integer else f"no FP4 tensor cores on {gpu.id}"
        notes.append(f"int4 is weight-only here ({why}): weights are dequantized to 16 bit for compute")
    if not plan.fits:
        return _not_fitting(plan, tp=tp, replicas=replicas, precision=precision, engine=engine, notes=notes)
    need = workload.input_tokens + workload.output_tokens
    if need > model.max_context_tokens:  # the engine refuses the request, whatever the memory
        too_long = replace(
            plan,
            reason=(
                f"a request of {need:,} tokens ({workload.input_tokens:,} in + {workload.output_tokens:,} "
                f"out) is longer than {model.name}'s context window of {model.max_context_tokens:,} tokens, "
                "so the engine refuses it; shorten the prompt or the output, or choose a model with a "
                "longer context"
            ),
            smallest_tp=None,
        )
        return _not_fitting(
            too_long, tp=tp, replicas=replicas, precision=precision, engine=engine, notes=notes
        )
    coefs = step_coefs(hw, params)
    limits = replica_limits(engine, params, plan, hw, gpu)
    load = load_for(workload, arrival, replicas)
    limits = bench_limits(limits, engine, load)
    r = mean_value(coefs, load, limits)
    columns = tail(
        coefs,
        load,
        limits,
        r,
        input_std=workload.input_tokens_std,
        output_std=workload.output_tokens_std,
        percentile=PERCENTILES,
    )
    values = {
        key: {
            p: float(v) for p, v in zip(PERCENTILES, np.broadcast_to(col, (len(PERCENTILES),)), strict=True)
        }
        for key, col in zip(("ttft", "tpot", "itl", "e2e"), columns, strict=True)
    }
    if int(load.mode) == CLOSED_LOOP and float(limits.prefill_first) > 0:
        values = wave_shapes(coefs, load, limits, r)  # every round one wave: the spread is its positions
    elif percentiles and load.mode != MAX_THROUGHPUT and not bool(r.saturated):
        from planner.simulation import simulated_shapes

        values = simulated_shapes(coefs, load, limits, workload, r, seed=seed, fallback=values)
    saturated = bool(r.saturated)
    if saturated:
        notes.append(
            f"saturated: {arrival.rate_rps:g} req/s exceeds the capacity of "
            f"{float(r.capacity_rps) * replicas:.2f} req/s; the queue grows without bound, "
            "so TTFT and e2e have no steady state (null)"
        )
    if load.mode == CLOSED_LOOP and float(r.queue_ms) > 0:
        notes.append(
            f"{(arrival.concurrency or 0) / replicas - float(r.batch):.0f} users per replica wait in "
            "the queue: the batch is limited by max_num_seqs or the KV cache"
        )
    accuracy = accuracy_note(params)
    if accuracy:
        notes.append(accuracy)
    out_tps = float(r.output_tokens_per_s) * replicas
    rps = float(r.requests_per_s) * replicas
    return Prediction(
        ttft_ms=_stats(float(r.ttft_ms), values["ttft"]),
        tpot_ms=_stats(float(r.tpot_ms), values["tpot"]),
        itl_ms=_stats(float(r.tpot_ms), values["itl"]),
        e2e_ms=_stats(float(r.e2e_ms), values["e2e"]),
        output_tokens_per_s=out_tps,
        total_tokens_per_s=out_tps + rps * workload.input_tokens,
        requests_per_s=rps,
        fits=True,
        kv_cache_tokens=plan.kv_cache_tokens,
        max_concurrency=plan.max_concurrency,
        saturated=saturated,
        breakdown=_simulated(_breakdown(r, coefs, hw, params, float(workload.output_tokens)), r, values),
        notes=tuple(notes),
        tensor_parallel=tp,
        replicas=replicas,
        precision=precision,
        engine=engine,
        capacity_rps=max(float(r.capacity_rps) * replicas, rps),
        smallest_tp=tp,
    )


def _not_fitting(
    plan: MemoryPlan, *, tp: int, replicas: int, precision: Precision, engine: Engine, notes: list[str]
) -> Prediction:
    nothing = LatencyStats.constant(INF)
    return Prediction(
        ttft_ms=nothing,
        tpot_ms=nothing,
        itl_ms=nothing,
        e2e_ms=nothing,
        output_tokens_per_s=0.0,
        total_tokens_per_s=0.0,
        requests_per_s=0.0,
        fits=False,
        kv_cache_tokens=plan.kv_cache_tokens,
        max_concurrency=plan.max_concurrency,
        saturated=False,
        breakdown=Breakdown(0.0, 0.0, 0.0, 0.0, 0.0),
        notes=(f"does not fit: {plan.reason}", *notes),
        tensor_parallel=tp,
        replicas=replicas,
        precision=precision,
        engine=engine,
        smallest_tp=plan.smallest_tp,
    )
