"""The fit recovers known efficiency factors from rows made by the model itself, and stays bounded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.calibration import abs_pct_errors, fit, predict_cases, stack
from planner.calibration_cases import case_from_row, fp4_weights, row_precision
from planner.calibration_report import data_version
from planner.catalog import Catalog
from planner.perf_params import BOUNDS, PerfParams, default_params
from planner.types import BenchmarkRow, Engine, Precision
from tests.planner.catalog_fixture import fixture_catalog

CATALOG = fixture_catalog()


def _row(i: int, **kw) -> BenchmarkRow:
    base = {
        "id": f"r{i}",
        "source_set": "aiconfigurator_measured",
        "scenario": "closed_loop",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "model_id": None,
        "gpu": "h100",
        "gpu_id": None,
        "gpu_count": 1,
        "tensor_parallel": 1,
        "precision": "bf16",
        "engine": Engine.VLLM,
        "engine_version": None,
        "input_tokens": 1024,
        "output_tokens": 256,
        "concurrency": 8.0,
        "request_rate": None,
    }
    base.update(kw)
    return BenchmarkRow(**base)


def _cases(truth: PerfParams):
    rows = [
        _row(i, input_tokens=isl, output_tokens=osl, concurrency=c, ttft_ms_mean=1.0, tpot_ms_mean=1.0)
        for i, (isl, osl, c) in enumerate(
            (a, b, c) for a in (256, 2048) for b in (128, 512) for c in (1.0, 8.0, 64.0)
        )
    ]
    cases = [case_from_row(r, CATALOG, truth) for r in rows]
    arrays = stack(cases, truth)
    pred = predict_cases(arrays, truth)
    labelled = [
        replace(
            c, measured={"ttft_ms": float(pred["ttft_ms"][i]), "itl_tpot_ms": float(pred["itl_tpot_ms"][i])}
        )
        for i, c in enumerate(cases)
    ]
    return stack(labelled, truth)


def test_fit_recovers_the_parameters_that_made_the_rows():
    prior = default_params()
    truth = replace(
        prior, mbu={**prior.mbu, "hopper": 0.6}, step_overhead_ms={**prior.step_overhead_ms, "vllm": 4.0}
    )
    arrays = _cases(truth)
    before = abs_pct_errors(arrays, prior)["itl_tpot_ms"].mean()
    fitted = fit(arrays, prior, iterations=15)
    after = abs_pct_errors(arrays, fitted)["itl_tpot_ms"].mean()
    assert after < before / 3
    for group, (lo, hi) in BOUNDS.items():
        value = getattr(fitted, group)
        for v in value.values() if isinstance(value, dict) else [value]:
            assert lo <= v <= hi


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"extra": {"mode": "disagg"}}, "disaggregated"),
        ({"extra": {"wip": True}}, "work in progress"),
        ({"scenario": "fixed_request_batch_duration"}, "scenario"),
        ({"model": "no/such-model"}, "catalog"),
    ],
)
def test_rows_that_cannot_be_compared_say_why(kw, reason):
    assert reason in case_from_row(_row(0, **kw), CATALOG, default_params())


@pytest.mark.parametrize(
    ("extra", "tp"),
    [
        ({}, 1),
        ({"moe_tp_size": 2, "moe_ep_size": 1}, 2),  # experts over both GPUs: one replica over them
        ({"moe_tp_size": 1, "moe_ep_size": 2}, 2),
        ({"attention_dp_size": 2}, 2),
    ],
)
def test_a_run_whose_experts_span_more_gpus_than_its_tp_is_one_replica_over_all(extra, tp):
    row = _row(0, gpu_count=2, extra=extra, ttft_ms_mean=100.0, tpot_ms_mean=10.0)
    case = case_from_row(row, CATALOG, default_params())
    assert not isinstance(case, str)
    assert (case.tp, case.replicas) == (tp, 2 // tp)


@pytest.mark.parametrize(
    ("text", "precision"), [(None, Precision.BF16), ("FP8", Precision.FP8), ("fp4", Precision.INT4)]
)
def test_row_precision(text, precision):
    assert row_precision(text) == precision


@pytest.mark.parametrize(
    ("precision", "extra", "fp4"),
    [
        ("fp4", {"gemm_quant_mode": "nvfp4"}, True),
        ("int4", {"gemm_quant_mode": "int4_wo"}, False),  # Kimi-K2.5's native INT4 on vLLM
        ("int4", {}, False),
        ("fp4", {}, True),
        ("w4a16", {}, False),
    ],
)
def test_4bit_rows_say_whether_blackwell_computes_them_in_fp4(precision, extra, fp4):
    h100 = CATALOG.gpu("H100-SXM")
    b200 = replace(
        h100, id="B200", name="NVIDIA B200", architecture="blackwell", fp8_tflops=4500.0, aliases=()
    )
    catalog = Catalog(CATALOG.models, (*CATALOG.gpus, b200), CATALOG.prices, CATALOG.templates)
    row = _row(0, gpu="B200", precision=precision, extra=extra, ttft_ms_mean=100.0, tpot_ms_mean=10.0)
    assert fp4_weights(row) is fp4
    case = case_from_row(row, catalog, default_params())
    assert not isinstance(case, str)
    assert (case.hw.fp4_tensor_cores, case.hw.weight_only_4bit) == ((1.0, 0.0) if fp4 else (0.0, 1.0))
    assert case.hw.tflops == (2 * 4500.0 if fp4 else b200.bf16_tflops)


def test_params_round_trip_and_data_version_is_order_free():
    p = default_params()
    assert PerfParams.from_dict(p.to_dict()) == p
    cases = [case_from_row(_row(i, ttft_ms_mean=100.0 + i), CATALOG, p) for i in range(3)]
    assert data_version(cases) == data_version(cases[::-1])


def test_validate_reports_both_held_out_splits_per_metric():
    from planner.calibration_report import validate

    prior = default_params()
    rows = [
        _row(i, source_set=src, gpu=gpu, concurrency=c, ttft_ms_mean=80.0 + c, tpot_ms_mean=9.0 + c / 8)
        for i, (src, gpu, c) in enumerate(
            (s, g, c) for s in ("a", "b") for g in ("h100", "a100") for c in (1.0, 8.0, 32.0)
        )
    ]
    cases = [case_from_row(r, CATALOG, prior) for r in rows]
    report = validate(cases, prior, iterations=2)
    assert report["rows"] == 12
    for split in ("leave_one_source_out", "leave_one_gpu_out"):
        assert set(report[split]) == {"ttft_ms", "itl_tpot_ms", "e2e_ms", "by_source"}
        assert all(report[split][m]["rows"] == 12 for m in ("ttft_ms", "itl_tpot_ms", "e2e_ms"))
        assert report[split]["by_source"]["a"]["ttft_ms"]["rows"] == 6


def test_repeatability_compares_rows_the_model_cannot_tell_apart():
    from planner.calibration_report import repeatability

    p = default_params()
    rows = [
        _row(0, ttft_ms_mean=100.0, tpot_ms_mean=10.0),
        _row(1, ttft_ms_mean=150.0, tpot_ms_mean=10.0),  # a repeat: TTFT 50% apart, TPOT identical
        _row(2, ttft_ms_mean=100.0, tpot_ms_mean=10.0),  # the first row listed again: not a repeat
        _row(3, concurrency=64.0, ttft_ms_mean=900.0, tpot_ms_mean=20.0),  # another load: no pair
    ]
    rep = repeatability([case_from_row(r, CATALOG, p) for r in rows])
    assert rep["ttft_ms"] == {"pairs": 2, "median_pct": 50.0, "p90_pct": 50.0}
    assert "itl_tpot_ms" not in rep  # equal values are the same measurement, not a repeat


def test_held_out_error_keeps_the_worse_split_per_metric():
    from planner.calibration_report import held_out_error

    report = {
        "leave_one_source_out": {
            "ttft_ms": {"rows": 10, "median_pct": 29.5, "p90_pct": 82.2},
            "itl_tpot_ms": {"rows": 10, "median_pct": 14.7, "p90_pct": 37.7},
            "by_source": {"a": {"ttft_ms": {"rows": 5, "median_pct": 99.0, "p90_pct": 99.0}}},
        },
        "leave_one_gpu_out": {
            "ttft_ms": {"rows": 10, "median_pct": 28.4, "p90_pct": 87.2},
            "itl_tpot_ms": {"rows": 10, "median_pct": 14.3, "p90_pct": 39.8},
        },
        "rows": 10,
    }
    out = held_out_error(report)
    assert set(out) == {"ttft_ms", "itl_tpot_ms"}  # by_source is a breakdown, not a metric
    # the worse median and the worse p90, which may come from different splits
    assert out["ttft_ms"] == {
        "rows": 10,
        "median_pct": 29.5,
        "p90_pct": 87.2,
        "split": "leave_one_source_out",
    }
    assert out["itl_tpot_ms"]["median_pct"] == 14.7 and out["itl_tpot_ms"]["p90_pct"] == 39.8
    assert held_out_error({}) == {}


def test_benchmark_runs_keep_their_kv_dtype_and_the_fit_keeps_the_deployed_one():
    """The fit reads vLLM's quantized runs with an fp8 KV cache (as they ran); the fitted parameters,
    which plans and `predict` use, keep vLLM's 16-bit default (what the manifests deploy)."""
    from planner.calibration_report import calibrate
    from planner.memory import memory_plan
    from planner.perf_model import kv_dtype_bytes
    from planner.perf_params import as_benchmarked

    prior = default_params()
    harness = as_benchmarked(prior)
    assert kv_dtype_bytes(Precision.FP8, Engine.VLLM, prior) == 2.0
    assert kv_dtype_bytes(Precision.FP8, Engine.VLLM, harness) == 1.0
    assert kv_dtype_bytes(Precision.BF16, Engine.VLLM, harness) == 2.0  # 16-bit weights keep 16-bit KV
    model, gpu = CATALOG.model("llama-3.1-8b"), CATALOG.gpu("h100")
    kwargs = {"tp": 1, "precision": Precision.FP8, "max_model_len": 4096, "gpu_memory_utilization": 0.9}
    deployed = memory_plan(model, gpu, params=prior, engine=Engine.VLLM, **kwargs)
    benchmarked = memory_plan(model, gpu, params=harness, engine=Engine.VLLM, **kwargs)
    assert benchmarked.kv_cache_tokens == pytest.approx(2 * deployed.kv_cache_tokens, rel=0.01)
    rows = [
        _row(i, precision="fp8", concurrency=c, ttft_ms_mean=50.0 + c, tpot_ms_mean=8.0)
        for i, c in enumerate((1.0, 8.0, 32.0))
    ]
    fitted = calibrate([case_from_row(r, CATALOG, harness) for r in rows], prior, iterations=2)
    assert fitted.fp8_kv_engines == prior.fp8_kv_engines
