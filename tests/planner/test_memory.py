"""Memory: KV bytes per token (worked examples), weights, capacity and the smallest fitting TP."""

from __future__ import annotations

import pytest

from planner.errors import InvalidInputError
from planner.memory import memory_plan, smallest_fitting_tp
from planner.perf_model import kv_bytes_per_token, kv_bytes_per_token_per_gpu, weight_bytes
from planner.perf_params import default_params
from planner.types import Precision
from tests.planner.perf_specs import DEEPSEEK_V3, H100, L40S, LLAMA_8B, LLAMA_70B, MIXTRAL

P = default_params()


@pytest.mark.parametrize(
    ("model", "expected_bytes"),
    [(LLAMA_8B, 128 * 1024), (LLAMA_70B, 320 * 1024), (MIXTRAL, 128 * 1024), (DEEPSEEK_V3, 70_272)],
)
def test_kv_bytes_per_token_matches_perf_facts(model, expected_bytes):
    assert kv_bytes_per_token(model) == expected_bytes


@pytest.mark.parametrize(("tp", "divisor"), [(1, 1), (2, 2), (8, 8), (16, 8)])
def test_kv_heads_split_over_min_tp_and_kv_heads(tp, divisor):
    assert kv_bytes_per_token_per_gpu(LLAMA_70B, tp=tp, kv_dtype_bytes=2) == 320 * 1024 / divisor


def test_mla_latent_cache_is_not_split_by_tp():
    assert kv_bytes_per_token_per_gpu(DEEPSEEK_V3, tp=8, kv_dtype_bytes=2) == 70_272


def test_fp8_weights_keep_embeddings_in_16_bit():
    bf16, fp8 = weight_bytes(LLAMA_8B, Precision.BF16), weight_bytes(LLAMA_8B, Precision.FP8)
    assert bf16 / 2**30 == pytest.approx(14.96, abs=0.05)  # vLLM measured 14.99 GiB
    assert fp8 / 2**30 == pytest.approx(8.46, abs=0.1)  # vLLM measured 8.49 GiB


def test_llama_8b_kv_tokens_within_1pct_of_vllm_measurement():
    plan = memory_plan(
        LLAMA_8B,
        H100,
        tp=1,
        precision=Precision.BF16,
        max_model_len=8192,
        gpu_memory_utilization=0.95,
        params=P,
    )
    assert plan.fits
    assert plan.kv_cache_tokens == pytest.approx(476_016, rel=0.01)  # vLLM v0.19.0 on H100
    assert plan.kv_cache_tokens % 16 == 0
    assert plan.max_concurrency == plan.kv_cache_tokens // 8192


def test_70b_does_not_fit_one_h100_and_names_the_smallest_tp():
    plan = memory_plan(LLAMA_70B, H100, tp=1, precision=Precision.BF16, max_model_len=8192, params=P)
    assert not plan.fits
    assert plan.smallest_tp == 2
    assert "tensor_parallel=2" in plan.reason
    assert smallest_fitting_tp(LLAMA_70B, H100, precision=Precision.FP8, max_model_len=4096, params=P) == 1
    assert smallest_fitting_tp(LLAMA_70B, L40S, precision=Precision.BF16, max_model_len=8192, params=P) == 4


@pytest.mark.parametrize(("tp", "length", "util"), [(0, 8192, 0.9), (1, 0, 0.9), (1, 8192, 1.5)])
def test_bad_memory_inputs_are_refused(tp, length, util):
    with pytest.raises(InvalidInputError):
        memory_plan(
            LLAMA_8B,
            H100,
            tp=tp,
            precision=Precision.BF16,
            max_model_len=length,
            gpu_memory_utilization=util,
            params=P,
        )
