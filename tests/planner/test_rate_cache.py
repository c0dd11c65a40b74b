"""The what-if caches give the same figures as the uncached code: exact rates from kept latency
curves (`planner.rate_cache`) and vectorised screening bounds (`planner.screen_batch`)."""

from __future__ import annotations

import pytest

from planner.capacity import _fits, slo_of, workload_of
from planner.intent import extract
from planner.perf import default_params, max_rate_under_slo
from planner.rate_cache import max_rate
from planner.screen import bound_under, gpu_terms, model_terms
from planner.screen_batch import bounds_under
from planner.types import Engine, Precision, SloTargets

PARAMS = default_params()
SLOS = (
    SloTargets(ttft_ms=500.0, itl_ms=50.0, e2e_ms=15000.0, percentile="p95"),
    SloTargets(ttft_ms=150.0, itl_ms=50.0, e2e_ms=15000.0, percentile="p95"),
    SloTargets(ttft_ms=2000.0, itl_ms=25.0, e2e_ms=8000.0, percentile="p99"),
    SloTargets(ttft_ms=300.0, itl_ms=80.0, e2e_ms=60000.0, percentile="p50"),
    SloTargets(ttft_ms=1.0, itl_ms=1.0, e2e_ms=1.0, percentile="p90"),
)


def _combos(catalog):
    for model in catalog.models:
        for gpu in catalog.gpus:
            for tp in (1, 2, 8):
                yield model, gpu, tp


def test_rates_from_kept_curves_equal_the_performance_models_search(catalog):
    workload = workload_of(extract("support chatbot for 1000 users", catalog=catalog))
    checked = 0
    for model, gpu, tp in list(_combos(catalog))[::3]:
        curves: dict = {}
        for slo in SLOS:  # one set of curves across the SLOs, as across what-if scenarios
            expected = max_rate_under_slo(
                model, gpu, tp=tp, precision=Precision.BF16, workload=workload, slo=slo, params=PARAMS
            )
            got = max_rate(
                model,
                gpu,
                tp=tp,
                precision=Precision.BF16,
                workload=workload,
                slo=slo,
                params=PARAMS,
                curves=curves,
            )
            assert got == expected, (model.id, gpu.id, tp, slo)
            checked += expected > 0
    assert checked > 20  # most are real rates, not "does not fit"


@pytest.mark.parametrize(
    "text", ["support chatbot for 1000 users", "summarize 100-page reports for 200 analysts"]
)
def test_vectorised_bounds_equal_the_scalar_ones(catalog, text):
    spec = extract(text, catalog=catalog)
    workload = workload_of(spec)
    fits = []
    for model in catalog.models:
        for precision in (Precision.BF16, Precision.INT4):
            mt = model_terms(model, precision, params=PARAMS, engine=Engine.VLLM)
            for gpu in catalog.gpus:
                gt = gpu_terms(gpu, precision, params=PARAMS, engine=Engine.VLLM)
                fits += _fits(mt, gt, 8192, PARAMS)
    assert any(f.fits for f in fits) and any(not f.fits for f in fits)
    for slo in (slo_of(spec), *SLOS):
        expected = [bound_under(f, workload=workload, slo=slo) for f in fits]
        assert bounds_under(fits, workload=workload, slo=slo) == expected
    assert bounds_under([], workload=workload, slo=SLOS[0]) == []
