"""The simulator's step time equals the performance model's for the profile step_profile() gives.

A cross-check between two independent implementations of one formula (simulator/ imports nothing
of the planner; this test imports both).
"""

from __future__ import annotations

import dataclasses

import pytest

from simulator.config import profile_from_dict
from simulator.latency import step_time_ms


@pytest.mark.parametrize(
    "batched,kv,pairs",
    [(1, 600, 600), (64, 64 * 1500, 64 * 1500), (8192, 8192, 8192 * 4096), (300, 40_000, 1e6)],
)
@pytest.mark.parametrize("model_name", ["llama-3.1-8b", "gemma-3-12b-it"])  # full attention; 5:1 sliding
@pytest.mark.parametrize("precision", ["bf16", "fp8"])  # fp8: GEMMs speed up in large steps
def test_step_times_agree_for_a_dense_model(
    seeded_env: str, model_name: str, precision: str, batched: int, kv: int, pairs: float
) -> None:
    from bot.cli.common import load_catalog_cached
    from kb.calibration import load_params
    from planner.perf import step_profile
    from planner.perf_model import hardware_costs, step_coefs, step_ms
    from planner.types import Engine, Precision

    catalog, params = load_catalog_cached(), load_params()
    model, gpu, prec = catalog.model(model_name), catalog.gpu("h100"), Precision(precision)
    profile = profile_from_dict(
        dataclasses.asdict(step_profile(model, gpu, tp=1, precision=prec, params=params, max_model_len=8192))
    )
    assert (profile.window_tokens > 0) == (model.sliding_window_layers > 0)
    bf16_gain = params.large_step_gemm_speed - 1.0  # low-bit GEMMs gain more in large steps
    assert profile.large_step_speedup == pytest.approx(bf16_gain) or prec == Precision.FP8
    assert prec != Precision.FP8 or profile.large_step_speedup > bf16_gain
    hw = hardware_costs(model, gpu, tp=1, precision=prec, engine=Engine.VLLM, params=params)
    planner_ms = float(
        step_ms(step_coefs(hw, params), batched_tokens=batched, kv_tokens=kv, token_pairs=pairs)
    )
    sim_ms = step_time_ms(profile, batched_tokens=batched, kv_tokens_read=kv, token_pairs=pairs)
    assert sim_ms == pytest.approx(planner_ms, rel=1e-9)
