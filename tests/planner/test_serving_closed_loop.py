"""Serving means: the partial last prefill chunk, closed-loop client overheads, KV held per engine."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.perf import Arrival, Workload, default_params, predict
from planner.perf_model import hardware_costs, step_coefs, step_ms
from planner.perf_setup import limits_for
from planner.serving import CLOSED_LOOP, MAX_THROUGHPUT, RATE, Limits, Load, max_batch, mean_value, shape_of
from planner.types import ArrivalKind, Engine, Precision
from tests.planner.perf_specs import H100, LLAMA_8B

P = default_params()
COEFS = step_coefs(
    hardware_costs(LLAMA_8B, H100, tp=1, precision=Precision.BF16, engine=Engine.VLLM, params=P), P
)
BASE = Limits(max_num_seqs=256, max_num_batched_tokens=8192, kv_cache_tokens=400_000, request_overhead_ms=5.0)


def _load(isl: float, osl: float = 128.0, mode: int = CLOSED_LOOP, value: float = 1.0) -> Load:
    return Load(input_tokens=isl, output_tokens=osl, prefix_tokens=0.0, mode=mode, value=value)


@pytest.mark.parametrize(
    ("isl", "full_steps"),
    [
        (1024, 0),  # fits in one step
        (8190, 1),  # with the 1/128 share of a prompt queued ahead, just over the room of 8191
        (12000, 1),
        (20000, 2),
    ],
)
def test_prefill_time_is_full_chunks_plus_the_partial_last_one(isl, full_steps):
    """A prompt just over the token budget costs one full step and a small one, not two full steps."""
    load = _load(isl)
    r = mean_value(COEFS, load, BASE)
    sh = shape_of(load)
    work = isl * (1.0 + 1.0 / 128.0)  # own prompt + one arrival per 128 steps queued ahead (batch 1)
    last_chunk = work - full_steps * 8191.0

    def step(chunk: float) -> float:
        kv = float(sh.ctx)
        return float(
            step_ms(COEFS, batched_tokens=1.0 + chunk, kv_tokens=kv, token_pairs=kv + chunk * sh.pf_pairs)
        )

    assert float(r.prefill_steps) == full_steps + 1
    assert float(r.prefill_ms) == pytest.approx(full_steps * step(8191.0) + step(last_chunk), rel=1e-9)


def test_prefill_time_grows_smoothly_past_the_budget():
    """No jump at the budget: 8193 tokens cost a few % more than 8191, not twice as much."""
    below = float(mean_value(COEFS, _load(8191), BASE).prefill_ms)
    above = float(mean_value(COEFS, _load(8193), BASE).prefill_ms)
    assert 1.0 < above / below < 1.1


@pytest.mark.parametrize(
    ("mode", "value", "extra_expected"),
    [
        (CLOSED_LOOP, 4.0, True),
        (RATE, 0.5, False),
        (MAX_THROUGHPUT, 0.0, False),
    ],
)
def test_client_front_end_and_first_token_steps_apply_to_closed_loops_only(mode, value, extra_expected):
    plain = replace(BASE, closed_loop_overhead_ms=0.0, first_token_steps=0.0)
    extra = replace(BASE, closed_loop_overhead_ms=40.0, first_token_steps=2.0)
    load = _load(1024, 256, mode, value)
    a, b = mean_value(COEFS, load, plain), mean_value(COEFS, load, extra)
    added = float(b.ttft_ms - a.ttft_ms)
    if extra_expected:
        assert added == pytest.approx(40.0 + 2.0 * float(b.tpot_ms), rel=1e-9)
    else:
        assert added == pytest.approx(0.0, abs=1e-9)
    assert float(b.tpot_ms) == pytest.approx(float(a.tpot_ms))  # decoding is not touched


@pytest.mark.parametrize(("reserve", "expected"), [(1.0, 400_000 // 9000), (0.5, 400_000 // 5000)])
def test_kv_capacity_counts_the_output_share_the_engine_holds(reserve, expected):
    """TensorRT-LLM reserves prompt + whole output; vLLM/SGLang hold half the output on average."""
    limits = replace(BASE, max_num_seqs=1024, kv_output_reserve=reserve, max_num_batched_tokens=1e9)
    assert float(max_batch(_load(1000, 8000), limits)) == expected


@pytest.mark.parametrize(
    ("engine", "reserve"), [(Engine.VLLM, 0.5), (Engine.SGLANG, 0.5), (Engine.TENSORRT_LLM, 1.0)]
)
def test_engine_limits_carry_the_fitted_closed_loop_terms(engine, reserve):
    lim = limits_for(engine, P, 100_000)
    assert lim.kv_output_reserve == reserve
    assert lim.closed_loop_overhead_ms == P.closed_loop_overhead_ms[engine.value]
    assert lim.first_token_steps == P.first_token_steps[engine.value]


def test_predicted_closed_loop_ttft_includes_the_front_end_and_percentiles_stay_ordered():
    wl = Workload(input_tokens=1024, output_tokens=256)
    arrival = Arrival(ArrivalKind.CLOSED_LOOP, concurrency=8)
    kw = dict(tp=1, precision=Precision.BF16, workload=wl, arrival=arrival, percentiles=True)
    quiet = replace(P, closed_loop_overhead_ms=dict.fromkeys(P.closed_loop_overhead_ms, 0.0))
    loud = replace(P, closed_loop_overhead_ms=dict.fromkeys(P.closed_loop_overhead_ms, 50.0))
    a, b = predict(LLAMA_8B, H100, params=quiet, **kw), predict(LLAMA_8B, H100, params=loud, **kw)
    assert b.ttft_ms.mean - a.ttft_ms.mean == pytest.approx(50.0, rel=1e-6)
    for s in (b.ttft_ms, b.tpot_ms, b.e2e_ms):
        values = [s.p50, s.p90, s.p95, s.p99]
        assert values == sorted(values) and np.isfinite(values).all()


@pytest.mark.parametrize(
    ("gpu_id", "precision", "fp4"),
    [
        ("B200", Precision.INT4, True),  # NVFP4/MXFP4 on Blackwell: FP4 tensor cores
        ("B200", Precision.FP8, False),
        ("H100-SXM", Precision.INT4, False),  # Hopper has no FP4 MMA: weight-only, 16-bit compute
    ],
)
def test_fp4_compute_on_blackwell_is_faster_than_fp8_but_below_twice(gpu_id, precision, fp4):
    b200 = replace(
        H100, id="B200", name="B200", architecture="blackwell", bf16_tflops=2250.0, fp8_tflops=4500.0
    )
    gpu = b200 if gpu_id == "B200" else H100
    hw = hardware_costs(LLAMA_8B, gpu, tp=1, precision=precision, engine=Engine.VLLM, params=P)
    fp8 = hardware_costs(LLAMA_8B, gpu, tp=1, precision=Precision.FP8, engine=Engine.VLLM, params=P)
    assert hw.fp4_tensor_cores == (1.0 if fp4 else 0.0)
    speedup = step_coefs(fp8, P).compute_ms_per_token / step_coefs(hw, P).compute_ms_per_token
    if fp4:
        assert speedup == pytest.approx(2.0 * P.fp4_eff)
        assert 1.0 < speedup < 2.0
    elif precision == Precision.FP8:
        assert speedup == pytest.approx(1.0)


@pytest.mark.parametrize(("top_k", "ratio"), [(2, 0.5), (4, 1.0), (8, 2.0)])
def test_moe_layer_overhead_scales_with_the_experts_each_token_visits(top_k, ratio):
    from tests.planner.perf_specs import MIXTRAL

    model = replace(MIXTRAL, num_experts=64, num_experts_active=top_k)
    hw = hardware_costs(model, H100, tp=2, precision=Precision.BF16, engine=Engine.VLLM, params=P)
    with_moe = float(step_coefs(hw, P).overhead_ms)
    without = float(step_coefs(hw, replace(P, moe_layer_overhead_us=0.0)).overhead_ms)
    per_layer_us = (with_moe - without) * 1000.0 / model.num_layers
    assert per_layer_us == pytest.approx(P.moe_layer_overhead_us * ratio)


@pytest.mark.parametrize(
    ("experts", "layers", "moe_part"), [(0, 0, 0.0), (128, 36, 0.3), (256, 60, 1.0), (384, 61, 1.525)]
)
def test_moe_fixed_ttft_scales_with_experts_times_moe_layers(experts, layers, moe_part):
    from planner.perf_model import expert_layers
    from planner.perf_params import request_overhead_ms
    from tests.planner.perf_specs import MIXTRAL

    model = replace(MIXTRAL, num_experts=experts, num_experts_active=min(8, experts), num_layers=layers or 32)
    hw = hardware_costs(model, H100, tp=4, precision=Precision.BF16, engine=Engine.VLLM, params=P)
    assert expert_layers(hw) == pytest.approx(experts * layers)
    got = request_overhead_ms(P, "vllm", expert_layers=expert_layers(hw))
    assert got == pytest.approx(P.request_overhead_ms["vllm"] + moe_part * P.moe_request_overhead_ms["vllm"])
    lim = limits_for(Engine.VLLM, P, 100_000, expert_layers=expert_layers(hw))
    assert lim.request_overhead_ms == pytest.approx(got)


def _prefill_only(tokens: float, sh_pairs: float) -> float:
    return float(step_ms(COEFS, batched_tokens=tokens, kv_tokens=0.0, token_pairs=tokens * sh_pairs))


def test_prefill_first_engines_keep_closed_loops_in_waves():
    """SGLang-style: the whole wave is prefilled in budget-sized prefill-only steps before decoding
    resumes. 16 prompts of 1024 tokens fill two steps of 8192: half the prompts get their first
    token after one step, half after two (1.5 steps on average), and the early half waits a step
    more before its second token, which TPOT (the mean gap after the first token) carries."""
    users, isl, osl = 16.0, 1024.0, 128.0
    load = _load(isl, osl, CLOSED_LOOP, users)
    plain = replace(BASE, closed_loop_wave=1.0, closed_loop_overhead_ms=0.0, first_token_steps=0.0)
    waves = replace(plain, prefill_first=1.0)
    lock = mean_value(COEFS, load, waves)
    full = _prefill_only(8192.0, float(shape_of(load).pf_pairs))
    assert float(lock.prefill_ms) == pytest.approx(1.5 * full, rel=0.04)  # a 33-point grid over the wave
    assert float(lock.ttft_ms) == pytest.approx(5.0 + float(lock.prefill_ms), rel=1e-9)
    waited = (2.0 * full - float(lock.prefill_ms)) / (osl - 1.0)
    assert float(lock.tpot_ms) == pytest.approx(float(lock.decode_step_ms) + waited, rel=1e-6)
    # the closed-loop identity: users / throughput = TTFT + (osl - 1) x TPOT, minus the fixed overhead
    cycle = users / float(lock.requests_per_s) * 1000.0
    assert cycle == pytest.approx(float(lock.ttft_ms) - 5.0 + (osl - 1.0) * float(lock.tpot_ms), rel=1e-6)
    alone = mean_value(COEFS, _load(isl, osl, CLOSED_LOOP, 1.0), waves)  # a wave of one: its own prompt
    assert float(alone.prefill_ms) == pytest.approx(_prefill_only(isl, float(shape_of(load).pf_pairs)))
    open_loop = _load(isl, osl, RATE, 2.0)  # open arrivals do not form waves
    assert float(mean_value(COEFS, open_loop, waves).ttft_ms) == float(
        mean_value(COEFS, open_loop, plain).ttft_ms
    )


@pytest.mark.parametrize(("reserve", "queues"), [(0.5, False), (1.0, True)])
def test_engines_that_allocate_kv_on_demand_admit_on_the_prompt(reserve, queues):
    """64 users of 1024/8192 need more KV than 200k tokens at mid-answer: vLLM admits every prompt and
    preempts later (no TTFT queue); TensorRT-LLM's no-evict policy makes users wait for a slot."""
    limits = replace(BASE, kv_cache_tokens=200_000, kv_output_reserve=reserve, closed_loop_wave=0.0)
    r = mean_value(COEFS, _load(1024, 8192, CLOSED_LOOP, 64.0), limits)
    assert float(r.batch) < 64.0  # the KV cache limits the running batch either way
    assert (float(r.queue_ms) > 1000.0) is queues


def test_a_hybrid_state_per_sequence_caps_the_batch_and_admissions():
    """Each sequence's fixed state (in KV tokens' worth) shrinks the batch the KV cache holds, in the
    mean-value model and in the discrete-event simulation alike."""
    from planner.simulation import simulate

    load = _load(2048, 512, mode=MAX_THROUGHPUT)
    small = replace(BASE, kv_cache_tokens=100_000, kv_output_reserve=1.0)
    state = replace(small, state_tokens=1500.0)
    assert float(max_batch(load, small)) == 100_000 // (2048 + 512)
    assert float(max_batch(load, state)) == 100_000 // (2048 + 512 + 1500)
    loop = _load(2048, 512, value=64.0)  # 64 users want in; the cache holds 39 (or 24 with the state)
    runs = {
        name: simulate(COEFS, loop, limits, Workload(2048, 512), seed=1, n=200)
        for name, limits in (("plain", small), ("state", state))
    }
    most = {name: float(np.max(run["itl_weight"])) for name, run in runs.items()}  # sequences decoding
    assert most["state"] == 24 and most["plain"] == 39
