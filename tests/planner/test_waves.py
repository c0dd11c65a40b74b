"""Closed loops on a prefill-first engine (SGLang): percentiles are the spread over a wave's positions."""

from __future__ import annotations

import numpy as np
import pytest

from planner.perf import Arrival, Workload, default_params, predict
from planner.perf_model import hardware_costs, step_coefs
from planner.perf_setup import limits_for, load_for
from planner.serving import mean_value, shape_of, wave_share, wave_times, wave_users
from planner.types import ArrivalKind, Engine, Precision
from planner.waves import wave_shapes
from tests.planner.perf_specs import H100, LLAMA_8B

P = default_params()


def _setup(users: int, isl: int = 2048, osl: int = 128):
    hw = hardware_costs(LLAMA_8B, H100, tp=1, precision=Precision.BF16, engine=Engine.SGLANG, params=P)
    coefs = step_coefs(hw, P)
    limits = limits_for(Engine.SGLANG, P, 400_000, gpu=H100)
    load = load_for(Workload(isl, osl), Arrival(ArrivalKind.CLOSED_LOOP, concurrency=users), 1)
    return coefs, limits, load, mean_value(coefs, load, limits)


def test_wave_percentiles_keep_the_mean_value_means_and_span_the_wave():
    coefs, limits, load, r = _setup(64)
    shapes = wave_shapes(coefs, load, limits, r)
    users = float(wave_users(r.batch, wave_share(limits, r.batch, shape_of(load).computed)))
    at, end = wave_times(coefs, users, shape_of(load), limits.max_num_batched_tokens)
    fixed = float(r.ttft_ms) - float(np.mean(at))
    ttft = shapes["ttft"]
    assert fixed + float(np.min(at)) <= ttft["p50"] <= ttft["p90"] <= ttft["p99"] <= fixed + float(end) + 1e-6
    # the wave's prompts of 2048 tokens fill `steps` budget-sized steps: the median prompt waits
    # about half of them, the last all of them
    steps = np.ceil(users * 2048 / float(limits.max_num_batched_tokens))
    assert 4 <= steps < 64 / 4  # a partial wave: more than one step, fewer than all 64 users' prompts
    assert (ttft["p99"] - fixed) / (ttft["p50"] - fixed) == pytest.approx(steps / ((steps + 1) / 2), rel=0.1)
    tpot = shapes["tpot"]
    assert tpot["p50"] <= tpot["p90"] <= tpot["p99"]
    assert set(shapes["e2e"].values()) == {float(r.e2e_ms)}  # the whole wave finishes on one step
    # a long gap once per request, among osl - 1 gaps: ITL p99 is still a decode step at osl 128
    assert shapes["itl"]["p99"] < tpot["p50"]


def test_predict_uses_the_wave_for_sglang_closed_loops_and_the_simulation_for_vllm():
    work = Workload(2048, 128)
    loop = Arrival(ArrivalKind.CLOSED_LOOP, concurrency=64)
    common = {
        "tp": 1,
        "replicas": 1,
        "precision": Precision.BF16,
        "workload": work,
        "arrival": loop,
        "params": P,
    }
    sg = predict(LLAMA_8B, H100, engine=Engine.SGLANG, **common)
    coefs, limits, load, r = _setup(64)
    assert sg.ttft_ms.p90 == pytest.approx(wave_shapes(coefs, load, limits, r)["ttft"]["p90"])
    assert sg.ttft_ms.mean == pytest.approx(float(r.ttft_ms))
    vl = predict(LLAMA_8B, H100, engine=Engine.VLLM, **common)
    assert vl.e2e_ms.p99 > vl.e2e_ms.p50  # vLLM staggers: no shared finishing step
