"""Capacity sizing: screening bound, exact sizing, replicas, constraints and their reasons."""

from __future__ import annotations

import math

import pytest

from planner.capacity import (
    HEADROOM,
    constraint_reason,
    replicas_for,
    screen,
    size_exact,
    slo_of,
    workload_of,
)
from planner.intent import extract
from planner.perf import default_params, max_rate_under_slo
from planner.recommend import candidate_models
from planner.types import Precision

PARAMS = default_params()


def _screen(catalog, text, **changes):
    spec = extract(text, catalog=catalog).model_copy(update=changes)
    return spec, screen(spec, catalog, candidate_models(spec, catalog)[0], params=PARAMS)


def test_replicas_keep_the_stated_headroom():
    assert replicas_for(10.0, 5.0) == math.ceil(10 / (5 * (1 - HEADROOM))) == 3
    assert replicas_for(0.1, 5.0) == 1 and replicas_for(10.0, 0.0) == 0


def test_constraint_reasons_carry_the_numbers(catalog):
    spec = extract("chatbot for 10 users", catalog=catalog).model_copy(update={"max_gpus": 16})
    assert constraint_reason(spec, replicas=3, tp=8, monthly_usd=1.0) == (
        "needs 3 replicas × 8 GPUs = 24, more than max_gpus=16"
    )
    spec = spec.model_copy(update={"max_gpus": None, "budget_usd_month": 1000.0})
    assert (
        constraint_reason(spec, replicas=1, tp=1, monthly_usd=2500.0)
        == "costs $2,500/month, over the $1,000 budget"
    )


def test_every_combination_is_screened_and_infeasible_ones_keep_a_reason(catalog):
    spec, rows = _screen(catalog, "chatbot for 1000 users")
    assert {r.gpu.id for r in rows} == {g.id for g in catalog.gpus}
    big = [
        r for r in rows if r.model.id.endswith("70B-Instruct") and r.gpu.id == "L4" and r.precision == "bf16"
    ]
    assert big and all(not r.feasible for r in big)
    assert any("does not fit on up to 4 × L4" in r.reason for r in big)
    feasible = [r for r in rows if r.feasible]
    assert feasible and all(r.replicas >= 1 and r.gpu_count == r.tp * r.replicas for r in feasible)


@pytest.mark.parametrize(
    "text",
    ["chatbot for 1000 users", "code completion for 500 devs", "summarize 100-page reports for 40 analysts"],
)
def test_screening_bound_is_optimistic_against_the_exact_rate(catalog, text):
    spec, rows = _screen(catalog, text)
    for r in [r for r in rows if r.feasible][::7]:
        exact = max_rate_under_slo(
            r.model,
            r.gpu,
            tp=r.tp,
            precision=r.precision,
            workload=workload_of(spec),
            slo=slo_of(spec),
            params=PARAMS,
        )
        assert r.rate_per_replica_rps >= exact
    for r in [r for r in rows if "decode step alone" in r.reason][::7]:
        exact = max_rate_under_slo(
            r.model,
            r.gpu,
            tp=r.tp,
            precision=r.precision,
            workload=workload_of(spec),
            slo=slo_of(spec),
            params=PARAMS,
        )
        assert exact == 0.0, r.reason


def test_exact_sizing_uses_and_fills_the_cache(catalog):
    spec, rows = _screen(catalog, "chatbot for 1000 users on h100 with llama 3.1 8b")
    row = next(r for r in rows if r.feasible)
    cache: dict = {}
    exact = size_exact(spec, row, params=PARAMS, cache=cache)
    assert exact.exact and exact == size_exact(spec, row, params=PARAMS)  # same rate as without a cache
    assert exact.rate_per_replica_rps == max_rate_under_slo(
        row.model,
        row.gpu,
        tp=row.tp,
        precision=row.precision,
        workload=workload_of(spec),
        slo=slo_of(spec),
        params=PARAMS,
    )
    assert exact.replicas == replicas_for(spec.traffic.peak_qps, exact.rate_per_replica_rps)
    rates = [k for k in cache if k[0] != "curves"]
    assert len(rates) == 1 and cache[rates[0]] == exact.rate_per_replica_rps
    assert size_exact(spec, row, params=PARAMS, cache=cache) == exact


def test_an_slo_what_if_reuses_the_latency_curves_and_sizes_as_the_performance_model(catalog):
    spec, rows = _screen(catalog, "chatbot for 1000 users on h100 with llama 3.1 8b")
    row = next(r for r in rows if r.feasible)
    cache: dict = {}
    size_exact(spec, row, params=PARAMS, cache=cache)
    (curves,) = [v for k, v in cache.items() if k[0] == "curves"]
    kept = {k: id(v) for k, v in curves.items()}
    for ttft_ms in (spec.slo.ttft_ms * 0.5, spec.slo.ttft_ms * 0.9, spec.slo.ttft_ms * 3):
        tighter = spec.model_copy(update={"slo": spec.slo.model_copy(update={"ttft_ms": ttft_ms})})
        sized = size_exact(tighter, row, params=PARAMS, cache=cache)
        assert sized.rate_per_replica_rps == max_rate_under_slo(
            row.model,
            row.gpu,
            tp=row.tp,
            precision=row.precision,
            workload=workload_of(tighter),
            slo=slo_of(tighter),
            params=PARAMS,
        )
    assert {k: id(v) for k, v in curves.items()} == kept  # nothing evaluated again for a new SLO


@pytest.mark.parametrize(
    ("changes", "needle"),
    [({"max_gpus": 1}, "more than max_gpus=1"), ({"budget_usd_month": 100.0}, "over the $100 budget")],
)
def test_constraints_mark_combinations_infeasible(catalog, changes, needle):
    _, rows = _screen(catalog, "chatbot for 200000 users", **changes)
    assert not [r for r in rows if r.feasible]
    assert any(needle in r.reason for r in rows)


def test_pinned_precision_and_provider(catalog):
    _, rows = _screen(catalog, "chatbot for 100 users", precision=Precision.FP8, provider="aws")
    priced = [r for r in rows if r.price]
    assert {r.precision for r in priced} == {Precision.FP8}
    assert priced and {r.price.provider for r in priced} == {"aws"}
    assert any(r.reason.startswith("no price for MI300X at aws") for r in rows)


def test_no_tensor_parallel_degree_the_engines_refuse_is_screened(catalog):
    """vLLM refuses a TP that does not divide the attention heads ("Total number of attention heads
    (28) must be divisible by tensor parallel size (8)"): Qwen2.5-7B's 28 heads rule out TP 8."""
    from planner.capacity import _fits
    from planner.memory import tp_problem
    from planner.screen import gpu_terms, model_terms
    from planner.types import Engine

    qwen = catalog.model("Qwen/Qwen2.5-7B-Instruct")
    mt = model_terms(qwen, Precision.BF16, params=PARAMS, engine=Engine.VLLM)
    gt = gpu_terms(catalog.gpu("A100-40GB"), Precision.BF16, params=PARAMS, engine=Engine.VLLM)
    # a context one A100-40GB cannot hold: the smallest TP is 2, and the search would go up to 4 x 2
    assert [f.tp for f in _fits(mt, gt, 500_000, PARAMS)] == [2, 4]
    _, rows = _screen(catalog, "summarize 100-page reports for 40 analysts")
    assert rows and not [(r.model.id, r.tp) for r in rows if r.feasible and tp_problem(r.model, r.tp)]


def test_tp_problem_names_the_heads_that_do_not_split():
    from dataclasses import replace

    from planner.memory import tp_problem
    from tests.planner.perf_specs import DEEPSEEK_V3, LLAMA_70B

    assert tp_problem(LLAMA_70B, 3) == "its 64 attention heads do not split evenly over 3 GPUs"
    phi4 = replace(LLAMA_70B, name="Phi-4", num_attention_heads=40, num_kv_heads=10)
    assert "10 KV heads" in tp_problem(phi4, 4) and tp_problem(phi4, 2) == ""
    assert tp_problem(replace(LLAMA_70B, num_kv_heads=4), 8) == ""  # 4 KV heads, each on 2 GPUs
    assert tp_problem(DEEPSEEK_V3, 8) == ""  # MLA: the latent KV is replicated, only heads split


def test_int4_needs_a_checkpoint_and_on_amd_gpus_a_natively_4bit_base(catalog):
    """vLLM reads AWQ/GPTQ/W8A8 only from a checkpoint, and runs none of them on AMD GPUs (FP8 and
    GGUF only): there int4 is a base that ships 4-bit itself, as gpt-oss's MXFP4."""
    from dataclasses import replace

    from planner.capacity_inputs import is_precision_allowed

    spec = extract("chatbot for 100 users", catalog=catalog)
    qwen, mistral = (
        catalog.model("Qwen/Qwen2.5-7B-Instruct"),
        catalog.model("mistralai/Mistral-7B-Instruct-v0.3"),
    )
    h100, mi300x = catalog.gpu("H100-SXM"), catalog.gpu("MI300X")
    assert is_precision_allowed(spec, qwen, h100, Precision.INT4)  # Qwen/Qwen2.5-7B-Instruct-AWQ
    assert not is_precision_allowed(spec, qwen, mi300x, Precision.INT4)
    assert not is_precision_allowed(spec, mistral, h100, Precision.INT4)  # no int4 checkpoint listed
    native = replace(qwen, details={"checkpoints": {"int4": qwen.id}})
    assert is_precision_allowed(spec, native, mi300x, Precision.INT4)
    assert is_precision_allowed(spec, qwen, mi300x, Precision.FP8)
    # a base that ships 4-bit loads only as itself: vLLM cannot make bf16 of it, nor take --quantization fp8
    assert native.native_precision is Precision.INT4 and qwen.native_precision is Precision.BF16
    assert not is_precision_allowed(spec, native, h100, Precision.BF16)
    assert not is_precision_allowed(spec, native, h100, Precision.FP8)
    fp8_base = replace(qwen, details={"checkpoints": {"fp8": qwen.id, "int4": "org/its-awq"}})
    assert is_precision_allowed(spec, fp8_base, h100, Precision.FP8)
    assert is_precision_allowed(spec, fp8_base, h100, Precision.INT4)  # another repository is listed
    assert not is_precision_allowed(spec, fp8_base, h100, Precision.BF16)
