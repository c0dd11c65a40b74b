"""Engine limits: trtllm-bench's build settings at maximum throughput, serving defaults otherwise."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from planner.perf import default_params
from planner.perf_setup import bench_limits, limits_for, scheduler_limits, trtllm_bench_limits
from planner.serving import CLOSED_LOOP, MAX_THROUGHPUT, RATE, Load
from planner.types import Engine, Precision
from tests.planner.perf_specs import GPU, LLAMA_8B


@pytest.mark.parametrize(
    ("kv_tokens", "isl", "osl", "expected"),
    [
        # 1.4M tokens / 256 = 5,469 requests: capped at 4096; tokens 4096 x (1 + 1) = 8192
        (1_400_000, 128, 128, (4096, 8192)),
        # 100k / 2,048 = 48.8 requests: the minimum batch of 64; tokens 48.8 x 2 = 97.7 -> the 2048 floor
        (100_000, 1024, 1024, (64, 2048)),
        # 300k / 1,100 = 272.7: rounded up to 384; tokens 272.7 x (1 + 1000/100) = 3000 -> 3072
        (300_000, 1000, 100, (384, 3072)),
        # 2M / 2,200 = 909: 1024; tokens 909 x (1 + 10) = 10,000 -> 10,240 (a multiple of 1024)
        (2_000_000, 2000, 200, (1024, 10240)),
        # 5M / 250 = 20,000 -> 4096; tokens 4096 x 25 = 102,400 -> capped at 32,768
        (5_000_000, 240, 10, (4096, 32768)),
    ],
)
def test_trtllm_bench_settings_follow_its_tuning_heuristic(kv_tokens, isl, osl, expected):
    assert trtllm_bench_limits(kv_tokens, isl, osl) == expected


def _load(mode: int) -> Load:
    return Load(input_tokens=128.0, output_tokens=128.0, prefix_tokens=0.0, mode=mode, value=1.0)


@pytest.mark.parametrize(
    ("engine", "mode", "bench"),
    [
        (Engine.TENSORRT_LLM, MAX_THROUGHPUT, True),
        (Engine.TENSORRT_LLM, RATE, False),
        (Engine.TENSORRT_LLM, CLOSED_LOOP, False),
        (Engine.VLLM, MAX_THROUGHPUT, False),
    ],
)
def test_bench_settings_apply_to_tensorrt_llm_at_maximum_throughput_only(engine, mode, bench):
    base = limits_for(engine, default_params(), 1_400_000)
    got = bench_limits(base, engine, _load(mode))
    if bench:
        assert (got.max_num_seqs, got.max_num_batched_tokens) == (4096.0, 8192.0)
    else:
        assert got == base


@pytest.mark.parametrize(
    ("engine", "gpu_id", "memory_gib", "budget"),
    [
        (Engine.VLLM, "H100-SXM", 80.0, 8192),  # vLLM's API server: 70 GiB or more and not an A100
        (Engine.VLLM, "A100-80GB", 80.0, 2048),  # A100s keep the small budget (vLLM PR #17885)
        (Engine.VLLM, "L40S", 48.0, 2048),
        (Engine.SGLANG, "L4", 24.0, 2048),  # SGLang's chunked_prefill_size by GPU memory
        (Engine.SGLANG, "L40S", 48.0, 4096),
        (Engine.SGLANG, "H200", 141.0, 8192),
        (Engine.SGLANG, "MI300X", 192.0, 16384),
        (Engine.TENSORRT_LLM, "L4", 24.0, 8192),  # the parameter set's value
    ],
)
def test_scheduler_limits_follow_each_engines_gpu_defaults(engine, gpu_id, memory_gib, budget):
    gpu = replace(GPU[gpu_id], memory_gib=memory_gib)
    assert scheduler_limits(engine, gpu, default_params())[1] == budget
    assert limits_for(engine, default_params(), 100_000, gpu=gpu).max_num_batched_tokens == budget


def test_the_deployed_engine_arguments_are_the_ones_the_prediction_modelled():
    from planner.intent import extract
    from planner.pipeline import serving_config
    from tests.planner.catalog_fixture import fixture_catalog

    spec = extract("a support chatbot for 100 users", catalog=fixture_catalog())
    l40s = replace(GPU["L40S"], memory_gib=48.0)
    sized = SimpleNamespace(model=LLAMA_8B, gpu=l40s, kv_cache_tokens=200_000, precision=Precision.FP8)
    cfg = serving_config(spec, sized)  # type: ignore[arg-type]
    assert cfg.max_num_batched_tokens == 2048 and cfg.kv_cache_dtype == "auto"
