"""Summaries of load-test samples (pure)."""

from __future__ import annotations

import math

import pytest

from simulator.loadstats import RequestSample, build_report, percentile, summarize_ms


@pytest.mark.parametrize(
    "values,q,expected",
    [([1.0], 99, 1.0), ([1.0, 2.0], 50, 1.5), ([1.0, 2.0, 3.0, 4.0, 5.0], 90, 4.6), ([0.0, 10.0], 99, 9.9)],
)
def test_percentile_interpolates(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_empty_is_nan() -> None:
    assert math.isnan(percentile([], 50)) and math.isnan(summarize_ms([]).mean)


def test_report_from_samples() -> None:
    samples = [
        RequestSample(
            ok=True, sent_s=0.0, ttft_s=0.1, e2e_s=0.4, output_tokens=4, chunk_times_s=(0.1, 0.2, 0.3, 0.4)
        ),
        RequestSample(
            ok=True, sent_s=0.5, ttft_s=0.3, e2e_s=0.5, output_tokens=3, chunk_times_s=(0.3, 0.4, 0.5)
        ),
        RequestSample(ok=False, sent_s=0.6, error="HTTP 500: boom"),
    ]
    r = build_report(samples, wall_s=1.0)
    assert (r.requests, r.errors, r.first_error) == (2, 1, "HTTP 500: boom")
    assert r.ttft_ms.mean == pytest.approx(200) and r.ttft_ms.p50 == pytest.approx(200)
    assert r.itl_ms.mean == pytest.approx(100) and r.tpot_ms.mean == pytest.approx(100)
    assert r.output_tokens_per_s == pytest.approx(7) and r.requests_per_s == pytest.approx(2)
    assert r.to_json()["e2e_ms"] == {"mean": 450.0, "p50": 450.0, "p90": 490.0, "p95": 495.0, "p99": 499.0}
    assert r.samples == tuple(samples) and "samples" not in r.to_json()
