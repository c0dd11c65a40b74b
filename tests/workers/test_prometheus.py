"""The Prometheus adapter against a loopback server speaking Prometheus' /api/v1/query (pytest-httpserver),
driven by the real prometheus-api-client."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from planner.errors import InvalidInputError
from planner.outcomes import LatencyStats
from workers.prometheus import MetricsUnavailableError, PrometheusSource, value_of


def vector(value: str | None, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1700000000.0, value]}


def answer(results: Callable[[str], list[dict[str, object]]]) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        query = request.args["query"]
        body = {"status": "success", "data": {"resultType": "vector", "result": results(query)}}
        return Response(json.dumps(body), content_type="application/json")

    return handler


def busy_model(query: str) -> list[dict[str, object]]:
    """A model with traffic: TTFT in s by quantile, other families at fixed values."""
    if query.startswith("count by (le)"):
        return [vector("2", le=le) for le in ("0.1", "0.25", "0.5", "1.0", "+Inf")]
    if query.startswith("count("):
        return [vector("2")]
    if "time_to_first_token" in query and query.startswith("histogram_quantile"):
        q = float(query.split("(", 1)[1].split(",", 1)[0])
        return [vector(str({0.5: 0.12, 0.9: 0.3, 0.95: 0.42, 0.99: 0.9}[q]))]
    if "time_to_first_token" in query:
        return [vector("0.15")]
    if "request_success_total" in query:
        return [vector("2.5")]
    if "kv_cache_usage_perc" in query:
        return [vector("0.61")]
    if query.startswith("histogram_quantile") or "_sum" in query:
        return [vector("0.02")]
    return [vector("3")]


def idle_model(query: str) -> list[dict[str, object]]:
    """Series exist, no requests in the window: quantiles and means are NaN, rates 0."""
    if query.startswith("histogram_quantile") or "_sum" in query:
        return [vector("NaN")]
    if query.startswith("count by (le)"):
        return [vector("1", le="0.5"), vector("1", le="+Inf")]
    return [vector("0")]


@pytest.mark.parametrize(
    ("result", "value"),
    [
        ([], None),
        ([vector("NaN")], None),
        ([vector("+Inf")], None),
        ([vector("-Inf")], None),
        ([vector("0.25")], 0.25),
        ([vector("0")], 0.0),
        ([{"metric": {}}], None),
        ([vector("not a number")], None),
    ],
)
def test_value_of(result: list[dict[str, object]], value: float | None) -> None:
    assert value_of(result) == value


def test_observe_a_busy_model(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(busy_model))
    got = PrometheusSource(httpserver.url_for("/")).observe("llama", namespace="team-a", window="30m")
    assert got.window == "30m" and got.window_s == 1800.0 and got.series_found and got.has_traffic
    assert got.ttft == LatencyStats(p50_ms=120.0, p90_ms=300.0, p95_ms=420.0, p99_ms=900.0, mean_ms=150.0)
    assert got.tpot.p95_ms == 20.0 and got.itl.p50_ms == 20.0 and got.e2e.mean_ms == 20.0
    assert got.requests_per_s == 2.5 and got.kv_cache_usage == 0.61 and got.queue_waiting == 3.0
    assert got.buckets_ms["ttft"] == (100.0, 250.0, 500.0, 1000.0)
    queries = [req.args["query"] for req, _ in httpserver.log]
    assert all('model_name="llama",namespace="team-a"' in q for q in queries)
    assert all("sum by (le)" in q for q in queries if q.startswith("histogram_quantile"))


def test_no_traffic_gives_none_not_nan(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(idle_model))
    got = PrometheusSource(httpserver.url_for("/")).observe("llama", window="1h")
    assert got.ttft.is_empty and got.tpot.is_empty and got.e2e.is_empty
    assert got.requests_per_s == 0.0 and not got.has_traffic and got.series_found


def test_unknown_model_has_no_series(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(lambda q: []))
    got = PrometheusSource(httpserver.url_for("/")).observe("typo")
    assert not got.series_found and not got.has_traffic and got.requests_per_s is None


def test_a_rejected_query_is_a_clear_error(httpserver: HTTPServer) -> None:
    error = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    httpserver.expect_request("/api/v1/query").respond_with_json(error, status=400)
    with pytest.raises(MetricsUnavailableError, match="rejected a query.*parse error"):
        PrometheusSource(httpserver.url_for("/")).observe("llama")


def test_an_unreachable_server_is_a_clear_error_and_fails_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    start = time.monotonic()
    with pytest.raises(MetricsUnavailableError, match=r"127\.0\.0\.1:\d+ is not reachable.*PROMETHEUS_URL"):
        PrometheusSource(f"http://127.0.0.1:{port}").observe("llama")
    assert time.monotonic() - start < 3.0


def test_a_bad_window_is_refused_before_any_query(httpserver: HTTPServer) -> None:
    with pytest.raises(InvalidInputError, match="Prometheus duration"):
        PrometheusSource(httpserver.url_for("/")).observe("llama", window="an hour")
    assert httpserver.log == []


def test_the_evaluation_time_is_sent(httpserver: HTTPServer) -> None:
    from datetime import UTC, datetime

    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(idle_model))
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    PrometheusSource(httpserver.url_for("/")).observe("llama", at=at)
    assert {req.args["time"] for req, _ in httpserver.log} == {f"{at.timestamp():.3f}"}
