"""Latency profiles (files, validation) and the step-time formula (pure)."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.config import (
    DEFAULT_PROFILE,
    PROFILE_FIELDS,
    Faults,
    LatencyProfile,
    ServerConfig,
    load_profile,
)
from simulator.errors import ProfileError
from simulator.latency import draw_output_tokens, step_load, step_time_ms
from simulator.text import count_prompt_tokens, response_text

P = LatencyProfile(
    step_overhead_ms=2.0,
    weights_read_ms=10.0,
    kv_read_ms_per_1k_tokens=0.5,
    compute_ms_per_token=0.1,
    attn_ms_per_1m_token_pairs=2.0,
    kv_cache_tokens=1000,
    max_num_seqs=8,
    max_num_batched_tokens=256,
    block_size=16,
)


@pytest.mark.parametrize(
    "batched,kv,pairs,expected",
    [
        # memory 10.5 ms, compute 0.1 + 0.002 ms: memory-bound decode, the compute term barely adds
        (1, 1000, 1000, 2.0 + math.hypot(10.0 + 0.5, 0.1 + 2.0 * 1000 / 1e6)),
        # memory 10.128 ms, compute 25.6 + 0.0655 ms: a prefill chunk where both count
        (256, 256, 256 * 128, 2.0 + math.hypot(10.0 + 0.128, 25.6 + 2.0 * 256 * 128 / 1e6)),
        (0, 0, 0, 12.0),  # an empty step: the weights alone
    ],
)
def test_step_time_formula(batched: int, kv: int, pairs: float, expected: float) -> None:
    assert step_time_ms(P, batched_tokens=batched, kv_tokens_read=kv, token_pairs=pairs) == pytest.approx(
        expected
    )


def test_step_load_sums_chunks_and_decodes() -> None:
    load = step_load([(100, 300)], [50, 70])
    assert load.batched_tokens == 102 and load.kv_tokens_read == 420
    assert load.token_pairs == pytest.approx(100 * (200 + 50) + 50 + 70)


def test_profile_file_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(DEFAULT_PROFILE.to_dict()))
    assert load_profile(path) == DEFAULT_PROFILE
    assert tuple(DEFAULT_PROFILE.to_dict()) == PROFILE_FIELDS


@pytest.mark.parametrize(
    "change,match",
    [
        ({"block_size": 0}, "block_size must be >= 1"),
        ({"weights_read_ms": -1}, "must be >= 0"),
        ({"max_num_seqs": 2.5}, "whole number"),
        ({"compute_ms_per_token": "fast"}, "finite number"),
        ({"kv_cache_tokens": 8}, "smaller than one block"),
        ({"extra": 1}, "unknown extra"),
        ({"gemm_ms_per_token": 1.0}, "cannot exceed compute_ms_per_token"),
        ({"large_step_half_tokens": 0}, "large_step_half_tokens must be >= 1"),
    ],
)
def test_bad_profile_values(tmp_path: Path, change: dict[str, object], match: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({**DEFAULT_PROFILE.to_dict(), **change}))
    with pytest.raises(ProfileError, match=match):
        load_profile(path)


def test_missing_fields_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"block_size": 16}')
    with pytest.raises(ProfileError, match="missing step_overhead_ms"):
        load_profile(path)
    path.write_text("{not json")
    with pytest.raises(ProfileError, match="not JSON"):
        load_profile(path)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.json")


def test_server_config_checks() -> None:
    with pytest.raises(ProfileError, match="max_model_len"):
        ServerConfig(model_name="m", profile=P, max_model_len=5000)
    with pytest.raises(ProfileError, match="error rate"):
        Faults(error_rate=1.5)
    assert ServerConfig(model_name="m", profile=P).context_limit == 992  # 62 whole blocks of 16


@pytest.mark.parametrize(
    "text,tokens", [("tok tok tok", 3), ("", 0), ("internationalization", 5), ("a  b\nc", 3)]
)
def test_prompt_token_count(text: str, tokens: int) -> None:
    assert count_prompt_tokens(text) == tokens


def test_output_draw_and_text_are_deterministic() -> None:
    a = [draw_output_tokens(random.Random(3), max_tokens=50, mean_tokens=20) for _ in range(3)]
    assert len(set(a)) == 1 and 1 <= a[0] <= 50
    assert response_text(5, 4) == response_text(5, 4) and len(response_text(5, 4).split()) == 4


def test_steps_beyond_the_cuda_graphs_pay_the_eager_launch_cost() -> None:
    eager = replace(P, eager_step_ms=5.0, graph_max_tokens=512)
    at_graph = step_time_ms(eager, batched_tokens=512, kv_tokens_read=0, token_pairs=0)
    beyond = step_time_ms(eager, batched_tokens=513, kv_tokens_read=0, token_pairs=0)
    assert at_graph == step_time_ms(P, batched_tokens=512, kv_tokens_read=0, token_pairs=0)
    no_launch = step_time_ms(P, batched_tokens=513, kv_tokens_read=0, token_pairs=0)
    assert beyond - no_launch == pytest.approx(5.0)  # the launches, on top of the step itself


def test_a_profile_file_written_before_the_eager_fields_still_loads(tmp_path: Path) -> None:
    old = {
        k: v for k, v in DEFAULT_PROFILE.to_dict().items() if k not in ("eager_step_ms", "graph_max_tokens")
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = load_profile(path)
    assert loaded.eager_step_ms == 0.0 and loaded.graph_max_tokens == 512


def test_low_bit_gemms_of_a_large_step_run_faster_and_a_decode_step_barely() -> None:
    """gemm_ms_per_token of the per-token compute speeds up by 1 + gain x n / (n + half) in a step of n."""
    compute_only = replace(P, step_overhead_ms=0.0, weights_read_ms=0.0, attn_ms_per_1m_token_pairs=0.0)
    fast = replace(compute_only, gemm_ms_per_token=0.04, large_step_speedup=1.0, large_step_half_tokens=1024)
    plain = step_time_ms(compute_only, batched_tokens=1024, kv_tokens_read=0, token_pairs=0)
    assert plain == pytest.approx(0.1 * 1024)
    # half way at 1,024 tokens: the GEMM part (0.04 of the 0.1 ms a token) runs 1.5x faster
    big = step_time_ms(fast, batched_tokens=1024, kv_tokens_read=0, token_pairs=0)
    assert big == pytest.approx((0.06 + 0.04 / 1.5) * 1024)
    one = step_time_ms(fast, batched_tokens=1, kv_tokens_read=0, token_pairs=0)
    assert one == pytest.approx(0.06 + 0.04 / (1 + 1 / 1025))
