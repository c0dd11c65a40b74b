"""The load generator against the simulator on an ephemeral loopback port (short runs)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from simulator.config import Faults, LatencyProfile, ServerConfig
from simulator.errors import SimulatorError
from simulator.latency import decode_itl_ms
from simulator.loadgen import Endpoint, LoadSpec, endpoint_url, run_load, run_sweep, sweep_rates
from simulator.loadstats import PERCENTILE_KEYS, REPORT_KEYS
from simulator.server import build_app

PROFILE = LatencyProfile(
    step_overhead_ms=1.0,
    weights_read_ms=9.0,
    kv_read_ms_per_1k_tokens=0.1,
    compute_ms_per_token=0.05,
    attn_ms_per_1m_token_pairs=1.0,
    kv_cache_tokens=50_000,
    max_num_seqs=32,
    max_num_batched_tokens=1024,
    block_size=16,
)
MODEL = "sim-m"


def with_server(body: Callable[[str], Awaitable[Any]], faults: Faults | None = None) -> Any:
    config = ServerConfig(model_name=MODEL, profile=PROFILE, faults=faults or Faults())

    async def main() -> Any:
        runner = web.AppRunner(build_app(config), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            return await body(f"http://127.0.0.1:{runner.addresses[0][1]}")
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def spec(url: str, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {
        "url": url,
        "model": MODEL,
        "input_tokens": 50,
        "output_tokens": 6,
        "duration_s": 0.5,
    }
    return LoadSpec(**{**base, **kw})


def test_rate_mode_reports_predict_keys() -> None:
    report = with_server(lambda url: run_load(spec(url, rate_per_s=40)))
    out = report.to_json()
    assert tuple(out) == REPORT_KEYS
    for key in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        assert tuple(out[key]) == PERCENTILE_KEYS
        assert 0 < out[key]["p50"] <= out[key]["p99"]
    assert out["errors"] == 0 and 18 <= out["requests"] <= 20
    assert out["output_tokens_per_s"] == pytest.approx(6 * out["requests_per_s"], rel=1e-3)
    # one request alone on the engine: ITL is a lone decode step
    assert report.itl_ms.p50 == pytest.approx(
        decode_itl_ms(PROFILE, batch_size=1, mean_context_len=53), rel=0.4
    )


@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_concurrency_mode_both_endpoints(endpoint: Endpoint) -> None:
    report = with_server(lambda url: run_load(spec(url, concurrency=4, endpoint=endpoint, output_tokens=10)))
    assert report.errors == 0 and report.requests >= 8
    assert report.tpot_ms.mean >= decode_itl_ms(PROFILE, batch_size=4, mean_context_len=55) * 0.9


def test_max_requests_bounds_the_run() -> None:
    report = with_server(lambda url: run_load(spec(url, concurrency=3, max_requests=5, duration_s=30)))
    assert report.requests == 5


def test_server_errors_are_counted_with_the_message() -> None:
    report = with_server(
        lambda url: run_load(spec(url, rate_per_s=20, duration_s=0.3)), Faults(error_rate=1.0)
    )
    assert report.requests == 0 and report.errors == 6
    assert report.first_error is not None and report.first_error.startswith("HTTP 500")
    assert report.to_json()["ttft_ms"]["p50"] is None


def test_unknown_model_is_an_error_per_request() -> None:
    report = with_server(lambda url: run_load(spec(url, concurrency=1, max_requests=2, model="nope")))
    assert report.errors == 2 and "does not exist" in (report.first_error or "")


def test_unreachable_server() -> None:
    with pytest.raises(SimulatorError, match="cannot reach"):
        asyncio.run(run_load(spec("http://127.0.0.1:9", concurrency=1, max_requests=2)))


def test_sweep_runs_sync_throughput_and_rates_between() -> None:
    points = with_server(
        lambda url: run_sweep(spec(url, rate_per_s=1, duration_s=0.3), points=2, max_concurrency=8)
    )
    assert [p.label.split("@")[0] for p in points] == ["synchronous", "throughput", "constant", "constant"]
    low, high = points[0].report.requests_per_s, points[1].report.requests_per_s
    assert low < points[2].rate_per_s < points[3].rate_per_s < high  # type: ignore[operator]


def test_sweep_rates() -> None:
    assert sweep_rates(1.0, 5.0, 3) == [2.0, 3.0, 4.0]
    assert sweep_rates(5.0, 5.0, 3) == []


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"rate_per_s": 1, "concurrency": 2}, "exactly one"),
        ({}, "exactly one"),
        ({"rate_per_s": 0}, "rate"),
        ({"concurrency": 0}, "concurrency"),
        ({"rate_per_s": 1, "input_tokens": 0}, "input tokens"),
        ({"rate_per_s": 1, "duration_s": -1}, "duration"),
        ({"rate_per_s": 1, "url": "localhost:8000"}, "URL"),
        ({"rate_per_s": 1, "api_key": "a\nb"}, "API key"),
    ],
)
def test_bad_specs(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(SimulatorError, match=match):
        spec(kw.pop("url", "http://127.0.0.1:8000"), **kw)


@pytest.mark.parametrize(
    "url,endpoint,expected",
    [
        ("http://h:1", Endpoint.COMPLETIONS, "http://h:1/v1/completions"),
        ("http://h:1/v1/", Endpoint.CHAT, "http://h:1/v1/chat/completions"),
        ("https://h/x/v1", Endpoint.CHAT, "https://h/x/v1/chat/completions"),
    ],
)
def test_endpoint_url(url: str, endpoint: Endpoint, expected: str) -> None:
    assert endpoint_url(url, endpoint) == expected
