"""Step times and predictions: worked examples, monotonicity, TP over PCIe, MoE, saturation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from planner.errors import InvalidInputError
from planner.memory import memory_plan
from planner.perf import Arrival, Workload, default_params, max_rate_under_slo, predict, step_profile
from planner.perf_model import hardware_costs, step_coefs, step_ms
from planner.types import ArrivalKind, Engine, Precision, SloTargets
from tests.planner.perf_specs import H100, L40S, L40S_NVLINK, LLAMA_8B, LLAMA_70B, MIXTRAL

P = default_params()
BF16 = Precision.BF16
W = Workload(input_tokens=512, output_tokens=128)


def _predict(model=LLAMA_8B, gpu=H100, tp=1, arrival=None, workload=W, percentiles=False, params=P, **kw):
    arrival = arrival or Arrival(ArrivalKind.POISSON, rate_rps=2.0)
    return predict(
        model,
        gpu,
        tp=tp,
        precision=BF16,
        workload=workload,
        arrival=arrival,
        params=params,
        percentiles=percentiles,
        **kw,
    )


def test_decode_step_of_8b_on_h100_is_weights_over_bandwidth():
    prof = step_profile(LLAMA_8B, H100, tp=1, precision=BF16, params=P, max_model_len=4096)
    # 16.06 GB / 3.35 TB/s = 4.8 ms at full bandwidth; 6.0 ms at 0.8 MBU (PERF_FACTS worked example)
    assert prof.weights_read_ms == pytest.approx(6.0 / P.engine_speed["vllm"], rel=0.05)
    assert prof.block_size == 16 and prof.max_num_seqs == P.max_num_seqs["vllm"]


def test_prefill_of_2048_tokens_is_compute_bound():
    coefs = step_coefs(hardware_costs(LLAMA_8B, H100, tp=1, precision=BF16, engine=Engine.VLLM, params=P), P)
    t = float(step_ms(coefs, batched_tokens=2048, kv_tokens=2048, token_pairs=2048 * 1024))
    # 32.9 TFLOP / (989 TF x MFU): ~74 ms at 0.45 (PERF_FACTS), plus attention
    assert 60 < t < 110


@pytest.mark.parametrize("rates", [(1.0, 8.0, 20.0)])
def test_more_load_means_higher_ttft_and_tpot(rates):
    preds = [_predict(arrival=Arrival(ArrivalKind.POISSON, rate_rps=r)) for r in rates]
    ttft = [p.ttft_ms.mean for p in preds]
    tpot = [p.tpot_ms.mean for p in preds]
    assert ttft == sorted(ttft) and ttft[0] < ttft[-1]
    assert tpot == sorted(tpot) and tpot[0] < tpot[-1]


def test_tp2_over_pcie_costs_more_than_over_nvlink():
    pcie = _predict(model=LLAMA_8B, gpu=L40S, tp=2).tpot_ms.mean
    nvlink = _predict(model=LLAMA_8B, gpu=L40S_NVLINK, tp=2).tpot_ms.mean
    assert pcie > nvlink * 1.05


def test_moe_computes_active_params_but_holds_all_experts():
    hw = hardware_costs(MIXTRAL, H100, tp=2, precision=BF16, engine=Engine.VLLM, params=P)
    assert hw.flops_per_token == pytest.approx(2 * 12.9e9 / 2)
    assert (hw.dense_read_bytes + hw.expert_read_bytes) * 2 == pytest.approx(46.7e9 * 2, rel=0.03)
    coefs = step_coefs(hw, P)
    one = float(step_ms(coefs, batched_tokens=1, kv_tokens=0, token_pairs=0))
    many = float(step_ms(coefs, batched_tokens=64, kv_tokens=0, token_pairs=0))
    assert many > one * 1.5  # a bigger batch touches more experts


def test_rate_beyond_capacity_is_saturated_and_null():
    p = _predict(arrival=Arrival(ArrivalKind.POISSON, rate_rps=1000.0))
    assert p.saturated
    assert any("saturated" in n for n in p.notes)
    doc = p.to_json()
    assert doc["ttft_ms"]["p99"] is None and doc["e2e_ms"]["mean"] is None
    assert p.requests_per_s == pytest.approx(p.capacity_rps)


def test_model_that_does_not_fit_reports_smallest_tp():
    p = _predict(model=LLAMA_70B, tp=1)
    assert not p.fits and p.smallest_tp == 2
    assert p.notes[0].startswith("does not fit")


def test_a_request_longer_than_the_context_window_does_not_fit():
    """Memory would hold it, but the engine refuses a request past the model's context (max_model_len)."""
    p = _predict(workload=Workload(input_tokens=200_000, output_tokens=200))
    assert not p.fits and p.smallest_tp is None and p.ttft_ms.mean == math.inf
    assert "context window of 131,072 tokens" in p.notes[0] and "shorten the prompt" in p.notes[0]


def test_tensorrt_llm_is_refused_on_amd_gpus():
    from tests.planner.perf_specs import GPU

    with pytest.raises(InvalidInputError, match="NVIDIA GPUs only.*use --engine vllm"):
        _predict(gpu=GPU["MI300X"], engine=Engine.TENSORRT_LLM)


def test_replicas_split_load_and_add_throughput():
    one = _predict(arrival=Arrival(ArrivalKind.POISSON, rate_rps=10.0))
    two = _predict(arrival=Arrival(ArrivalKind.POISSON, rate_rps=20.0), replicas=2)
    assert two.requests_per_s == pytest.approx(2 * one.requests_per_s)
    assert two.ttft_ms.mean == pytest.approx(one.ttft_ms.mean)


def test_prefix_caching_cuts_ttft():
    plain = _predict(workload=Workload(2048, 128))
    cached = _predict(workload=Workload(2048, 128, prefix_tokens=1536))
    assert cached.ttft_ms.mean < plain.ttft_ms.mean * 0.7


@pytest.mark.parametrize("kind", [ArrivalKind.POISSON, ArrivalKind.CLOSED_LOOP])
def test_percentiles_are_ordered_and_seeded(kind):
    arrival = Arrival(kind, rate_rps=8.0) if kind == ArrivalKind.POISSON else Arrival(kind, concurrency=16)
    wl = Workload(512, 128, input_tokens_std=200, output_tokens_std=60)
    a = _predict(arrival=arrival, workload=wl, percentiles=True, seed=3)
    b = _predict(arrival=arrival, workload=wl, percentiles=True, seed=3)
    assert a == b
    for stats in (a.ttft_ms, a.tpot_ms, a.itl_ms, a.e2e_ms):
        vals = [stats.p50, stats.p90, stats.p95, stats.p99]
        assert vals == sorted(vals) and all(math.isfinite(v) for v in vals)
    assert a.e2e_ms.p99 > a.e2e_ms.p50


@pytest.mark.parametrize(
    "arrival",
    [Arrival(ArrivalKind.POISSON, rate_rps=5.0), Arrival(ArrivalKind.CLOSED_LOOP, concurrency=16)],
)
def test_breakdown_adds_up_to_e2e(arrival):
    p = _predict(arrival=arrival)
    assert p.breakdown.total_ms == pytest.approx(p.e2e_ms.mean, rel=0.02)


def test_max_rate_under_slo_is_monotone_in_the_slo_and_zero_when_impossible():
    loose = SloTargets(ttft_ms=2000, itl_ms=60, e2e_ms=20000)
    tight = SloTargets(ttft_ms=200, itl_ms=15, e2e_ms=5000)
    kw = {"tp": 1, "precision": BF16, "engine": Engine.VLLM, "workload": W, "params": P}
    r_loose = max_rate_under_slo(LLAMA_8B, H100, slo=loose, **kw)
    r_tight = max_rate_under_slo(LLAMA_8B, H100, slo=tight, **kw)
    assert r_loose > r_tight > 0
    assert max_rate_under_slo(LLAMA_8B, H100, slo=SloTargets(1, 1, 1), **kw) == 0.0
    assert max_rate_under_slo(LLAMA_70B, H100, slo=loose, **kw) == 0.0  # does not fit on one GPU


@pytest.mark.parametrize(
    "make",
    [
        lambda: Workload(0, 10),
        lambda: Workload(10, -1),
        lambda: Workload(10, 10, prefix_tokens=10),
        lambda: Arrival(ArrivalKind.POISSON, rate_rps=0.0),
        lambda: Arrival(ArrivalKind.CLOSED_LOOP, concurrency=0),
        lambda: _predict(tp=0),
        lambda: _predict(replicas=0),
    ],
)
def test_zero_or_negative_inputs_are_refused(make):
    with pytest.raises(InvalidInputError):
        make()


@pytest.mark.parametrize(
    ("batched", "kv", "pairs"), [(1, 0, 0), (64, 64 * 900, 64 * 900), (4096, 5000, 4096 * 2048)]
)
def test_step_profile_formula_is_the_step_time_the_model_uses(batched, kv, pairs):
    prof = step_profile(LLAMA_8B, H100, tp=2, precision=BF16, params=P, max_model_len=4096)
    eager = prof.eager_step_ms if batched > prof.graph_max_tokens else 0.0
    assert prof.eager_step_ms == pytest.approx(LLAMA_8B.num_layers * P.eager_layer_us / 1000.0)
    by_profile = (
        prof.step_overhead_ms
        + eager
        + math.hypot(
            prof.weights_read_ms + prof.kv_read_ms_per_1k_tokens * kv / 1000,
            prof.compute_ms_per_token * batched + prof.attn_ms_per_1m_token_pairs * pairs / 1e6,
        )
    )
    coefs = step_coefs(hardware_costs(LLAMA_8B, H100, tp=2, precision=BF16, engine=Engine.VLLM, params=P), P)
    assert float(step_ms(coefs, batched_tokens=batched, kv_tokens=kv, token_pairs=pairs)) == pytest.approx(
        by_profile
    )


def test_confidence_note_names_the_calibration_rows():
    fitted = replace(P, fit_info={"rows_by_family_engine": {"hopper/vllm": 42}})
    assert "calibrated on 42 benchmark rows for hopper / vllm" in _predict(params=fitted).notes
    assert any(n.startswith("extrapolated") for n in _predict(gpu=L40S, params=fitted).notes)


def test_predictions_quote_the_held_out_error_the_calibration_measured():
    assert not any(n.startswith("expected error") for n in _predict().notes)  # priors: never measured
    held_out = {
        "ttft_ms": {"median_pct": 29.5, "p90_pct": 87.2},
        "itl_tpot_ms": {"median_pct": 14.7, "p90_pct": 39.8},
    }
    notes = _predict(params=replace(P, fit_info={"held_out_error": held_out})).notes
    assert any(
        n.startswith("expected error") and "TTFT ±30% (1 in 10 off by more than 87%)" in n and "ITL ±15%" in n
        for n in notes
    )
    broken = {"ttft_ms": {"median_pct": "?"}, "itl_tpot_ms": None}  # a hand-edited file: no note, no crash
    for bad in (["not", "a", "table"], "29.5"):
        assert not any(
            n.startswith("expected error")
            for n in _predict(params=replace(P, fit_info={"held_out_error": bad})).notes
        )
    assert not any(
        n.startswith("expected error")
        for n in _predict(params=replace(P, fit_info={"held_out_error": broken})).notes
    )


def test_sliding_window_layers_read_only_their_window_once_contexts_pass_it():
    """Half of the layers attending to the last 128 tokens read half the KV of a long context."""
    windowed = replace(LLAMA_8B, sliding_window=128, sliding_window_layers=16)
    full, half = (step_coefs(hardware_costs(m, H100, tp=1, precision=Precision.BF16,
                                            engine=Engine.VLLM, params=P), P)
                  for m in (LLAMA_8B, windowed))  # fmt: skip
    batch, ctx = 64, 8192
    kv_ms = full.kv_read_ms_per_1k_tokens * batch * ctx / 1000.0
    long_full = step_ms(full, batched_tokens=batch, kv_tokens=batch * ctx, token_pairs=batch * ctx)
    long_half = step_ms(half, batched_tokens=batch, kv_tokens=batch * ctx, token_pairs=batch * ctx)
    saved = full.kv_read_ms_per_1k_tokens * 0.5 * batch * (ctx - 128) / 1000.0
    assert kv_ms > saved > 0
    # the windowed half reads (and attends over) 128 keys per sequence instead of the context
    pairs = batch * ctx - 0.5 * batch * (ctx - 128)
    memory = half.dense_read_ms + kv_ms - saved
    compute = half.compute_ms_per_token * batch + half.attn_ms_per_1m_token_pairs * pairs / 1e6
    assert long_half == pytest.approx(half.overhead_ms + math.hypot(memory, compute), rel=1e-9)
    assert long_full - long_half == pytest.approx(saved, rel=0.02)  # memory-bound: nearly all of it
    # contexts inside the window: the window changes nothing
    short = {"batched_tokens": batch, "kv_tokens": batch * 100, "token_pairs": batch * 100}
    assert step_ms(full, **short) == step_ms(half, **short)


def test_a_linear_attention_hybrid_keeps_kv_only_for_its_attention_layers():
    hybrid = replace(LLAMA_8B, attention_layers=8)  # 8 of 32 layers attend; 24 carry a fixed state
    dense, mixed = (hardware_costs(m, H100, tp=1, precision=Precision.BF16, engine=Engine.VLLM, params=P)
                    for m in (LLAMA_8B, hybrid))  # fmt: skip
    assert mixed.kv_bytes_per_token == pytest.approx(dense.kv_bytes_per_token / 4)
    assert mixed.attn_flops_per_pair == pytest.approx(dense.attn_flops_per_pair / 4)
    assert mixed.flops_per_token == dense.flops_per_token  # projections still run in every layer


@pytest.mark.parametrize(
    "model", [LLAMA_8B, MIXTRAL, replace(LLAMA_8B, sliding_window=128, sliding_window_layers=16)]
)
@pytest.mark.parametrize(
    ("batched", "kv", "pairs"), [(1, 0, 0), (64, 64 * 900, 64 * 900), (4096, 9e4, 4096 * 3e3)]
)
def test_plain_float_step_time_is_the_array_formula(model, batched, kv, pairs):
    """A single prediction steps in plain floats; the calibration steps arrays: one formula."""
    coefs = step_coefs(hardware_costs(model, H100, tp=2, precision=BF16, engine=Engine.VLLM, params=P), P)
    assert coefs.scalar
    scalar = step_ms(coefs, batched_tokens=batched, kv_tokens=kv, token_pairs=pairs)
    arrays = step_ms(
        coefs, batched_tokens=np.array([batched]), kv_tokens=np.array([kv]), token_pairs=np.array([pairs])
    )
    assert isinstance(scalar, float)
    assert scalar == pytest.approx(float(arrays[0]), rel=1e-12)


def test_a_hybrid_without_a_sized_state_says_its_state_memory_is_not_counted():
    notes = _predict(model=replace(LLAMA_8B, attention_layers=8)).notes
    assert any(n.startswith("hybrid: KV cache for 8 of 32 layers") and "does not size" in n for n in notes)
    assert not any(n.startswith("hybrid") for n in _predict().notes)


def test_a_hybrid_state_takes_kv_room_from_every_sequence():
    """8 of 32 layers attend; the other 24 hold 24 x 1M elements (48 MiB in bf16) per sequence."""
    hybrid = replace(LLAMA_8B, attention_layers=8, state_elements_per_seq=24 * 1_048_576)
    plain = replace(LLAMA_8B, attention_layers=8)
    plans = {
        (m.state_elements_per_seq, tp): memory_plan(
            m, H100, tp=tp, precision=Precision.BF16, max_model_len=4096, params=P
        )
        for m in (hybrid, plain)
        for tp in (1, 2)
    }
    for tp in (1, 2):
        with_state, without = plans[(hybrid.state_elements_per_seq, tp)], plans[(0, tp)]
        assert with_state.kv_cache_tokens == without.kv_cache_tokens  # the pool is the same memory
        state_bytes = 24 * 1_048_576 * 2 / tp  # bf16, its heads split over the GPUs
        assert with_state.state_tokens_per_seq == math.ceil(state_bytes / with_state.kv_bytes_per_token)
        per_seq = 4096 + with_state.state_tokens_per_seq
        assert with_state.max_concurrency == with_state.kv_cache_tokens // per_seq
        assert with_state.max_concurrency < without.max_concurrency
    pred = _predict(model=hybrid)
    assert pred.max_concurrency < _predict(model=plain).max_concurrency
    assert any("48 MiB per sequence" in n for n in pred.notes)


def test_a_sequence_that_fits_only_without_its_state_does_not_fit():
    plan = memory_plan(LLAMA_8B, H100, tp=1, precision=Precision.BF16, max_model_len=4096, params=P)
    per_seq_bytes = (plan.kv_cache_tokens - 4096 + 16) * plan.kv_bytes_per_token  # just over the room left
    hybrid = replace(LLAMA_8B, attention_layers=32, state_elements_per_seq=int(per_seq_bytes / 2) + 1)
    big = memory_plan(hybrid, H100, tp=1, precision=Precision.BF16, max_model_len=4096, params=P)
    assert not big.fits and "fixed state" in big.reason and big.smallest_tp == 2


def test_weight_only_4bit_weights_stream_slower_than_their_bytes_off_blackwell():
    """int4 on Hopper dequantizes in the GEMM (w4a16_read_eff); Blackwell's FP4 tensor cores do not."""
    b200 = replace(H100, id="B200", name="NVIDIA B200", architecture="blackwell", fp8_tflops=4500.0)
    for gpu, factor in ((H100, P.w4a16_read_eff), (b200, 1.0)):
        costs = {
            p: hardware_costs(LLAMA_70B, gpu, tp=2, precision=p, engine=Engine.VLLM, params=P)
            for p in (Precision.INT4, Precision.BF16)
        }
        ratio = costs[Precision.INT4].dense_read_bytes / costs[Precision.BF16].dense_read_bytes
        coefs = {p: step_coefs(c, P) for p, c in costs.items()}
        read = coefs[Precision.INT4].dense_read_ms / coefs[Precision.BF16].dense_read_ms
        assert read == pytest.approx(ratio / factor), gpu.id
    assert P.w4a16_read_eff < 1.0


def test_an_integer_int4_checkpoint_is_weight_only_on_blackwell_too():
    """Kimi-K2.5's native INT4 experts are dequantized to 16 bit; an FP4 checkpoint computes in FP4."""
    b200 = replace(H100, id="B200", name="NVIDIA B200", architecture="blackwell", fp8_tflops=4500.0)
    fp4, integer = (
        hardware_costs(m, b200, tp=2, precision=Precision.INT4, engine=Engine.VLLM, params=P)
        for m in (LLAMA_70B, replace(LLAMA_70B, int4_integer=True))
    )
    assert (fp4.fp4_tensor_cores, fp4.weight_only_4bit, fp4.tflops) == (1.0, 0.0, 9000.0)
    weight_only = (0.0, 1.0, b200.bf16_tflops)
    assert (integer.fp4_tensor_cores, integer.weight_only_4bit, integer.tflops) == weight_only
    assert integer.dense_read_bytes == fp4.dense_read_bytes  # the same 4-bit bytes, read more slowly


def test_predict_says_when_int4_is_weight_only():
    def notes(model, gpu):
        p = predict(model, gpu, tp=1, precision=Precision.INT4, workload=W,
                    arrival=Arrival(ArrivalKind.POISSON, rate_rps=1.0), params=P)  # fmt: skip
        return " ".join(p.notes)

    b200 = replace(H100, id="B200", name="NVIDIA B200", architecture="blackwell", fp8_tflops=4500.0)
    assert "weight-only here (no FP4 tensor cores on H100-SXM)" in notes(LLAMA_8B, H100)
    assert "weight-only here (integer weights)" in notes(replace(LLAMA_8B, int4_integer=True), b200)
    assert "weight-only" not in notes(LLAMA_8B, b200)


def test_fp8_gemms_speed_up_in_large_steps_and_16_bit_ones_do_not():
    """Low-bit GEMMs reach low_bit_compute_eff at decode sizes and low_bit_prefill_eff in prefill-sized
    steps (half way at 1,024 tokens); 16-bit GEMMs run at one efficiency whatever the step."""

    def per_token_compute(precision, batched):
        hw = hardware_costs(LLAMA_70B, H100, tp=1, precision=precision, engine=Engine.VLLM, params=P)
        c = replace(step_coefs(hw, P), overhead_ms=0.0, dense_read_ms=0.0, eager_ms=0.0)  # GEMMs only
        return float(step_ms(c, batched_tokens=batched, kv_tokens=0.0, token_pairs=0.0)) / batched

    full = P.low_bit_prefill_eff / P.low_bit_compute_eff
    fp8 = {n: per_token_compute(Precision.FP8, n) for n in (1, 1024, 1_000_000)}
    assert fp8[1] / fp8[1024] == pytest.approx(1.0 + (full - 1.0) / 2, rel=2e-3)
    assert fp8[1] / fp8[1_000_000] == pytest.approx(full, rel=2e-3)
    bf16 = {n: per_token_compute(BF16, n) for n in (1, 8192)}
    assert bf16[1] == pytest.approx(bf16[8192], rel=1e-9)


def test_large_steps_never_slow_low_bit_gemms_down():
    """A calibration that puts the prefill efficiency under the decode one leaves steps as they were."""
    params = replace(P, low_bit_prefill_eff=0.5 * P.low_bit_compute_eff)
    hw = hardware_costs(LLAMA_70B, H100, tp=2, precision=Precision.FP8, engine=Engine.VLLM, params=params)
    assert float(step_coefs(hw, params).large_m_gain) == 0.0
