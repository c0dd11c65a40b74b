"""The Prometheus adapter: vLLM's metrics of one served model over a window, as `ObservedMetrics`.

Queries follow INTEGRATION.md §5: `sum by (le)` before `histogram_quantile` so pods and engines
combine, `rate(_sum)/rate(_count)` for exact means, the pre-0.13 ITL and KV-cache names as
fallbacks (`new or old`). A window without requests gives NaN, which becomes None here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from planner.outcomes import LatencyStats, Metric, ObservedMetrics, parse_window_s

DEFAULT_TIMEOUT_S = 10
QUANTILES = {"p50_ms": 0.5, "p90_ms": 0.9, "p95_ms": 0.95, "p99_ms": 0.99}
# Histogram families per metric; the second name is the pre-0.13 one where vLLM renamed it.
HISTOGRAMS: dict[Metric, tuple[str, ...]] = {
    Metric.TTFT: ("vllm:time_to_first_token_seconds",),
    Metric.ITL: ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    Metric.TPOT: ("vllm:request_time_per_output_token_seconds",),
    Metric.E2E: ("vllm:e2e_request_latency_seconds",),
}

Query = Callable[[str], list[dict[str, Any]]]


class MetricsUnavailableError(Exception):
    """Prometheus could not be queried (unreachable, timed out, or it rejected the query)."""


@dataclass(frozen=True)
class Selector:
    """Which vLLM series: the served model name (KServe: the InferenceService name) and a namespace."""

    model_name: str
    namespace: str | None = None

    def labels(self) -> str:
        pairs = [("model_name", self.model_name)] + (
            [("namespace", self.namespace)] if self.namespace else []
        )
        return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _rate(name: str, sel: Selector, window: str) -> str:
    return f"rate({name}{{{sel.labels()}}}[{window}])"


def _rates(names: tuple[str, ...], sel: Selector, window: str) -> str:
    return " or ".join(_rate(n, sel, window) for n in names)


def quantile_query(metric: Metric, q: float, sel: Selector, window: str) -> str:
    """histogram_quantile(q, sum by (le) (rate(<family>_bucket{sel}[window])))."""
    rates = _rates(tuple(f"{n}_bucket" for n in HISTOGRAMS[metric]), sel, window)
    return f"histogram_quantile({q:g}, sum by (le) ({rates}))"


def mean_query(metric: Metric, sel: Selector, window: str) -> str:
    """The exact mean: sum(rate(_sum)) / sum(rate(_count))."""
    names = HISTOGRAMS[metric]
    total = _rates(tuple(f"{n}_sum" for n in names), sel, window)
    count = _rates(tuple(f"{n}_count" for n in names), sel, window)
    return f"sum({total}) / sum({count})"


def bounds_query(metric: Metric, sel: Selector) -> str:
    """The `le` bounds present (custom buckets override vLLM's defaults, so they are read, not assumed)."""
    names = HISTOGRAMS[metric]
    series = " or ".join(f"{n}_bucket{{{sel.labels()}}}" for n in names)
    return f"count by (le) ({series})"


def scalar_queries(sel: Selector, window: str) -> dict[str, str]:
    """Rates over the window, and peaks over it of the gauges."""
    labels = sel.labels()
    return {
        "requests_per_s": f"sum({_rate('vllm:request_success_total', sel, window)})",
        "output_tokens_per_s": f"sum({_rate('vllm:generation_tokens_total', sel, window)})",
        "input_tokens_per_s": f"sum({_rate('vllm:prompt_tokens_total', sel, window)})",
        "kv_cache_usage": f"max(max_over_time(vllm:kv_cache_usage_perc{{{labels}}}[{window}]) "
        f"or max_over_time(vllm:gpu_cache_usage_perc{{{labels}}}[{window}]))",
        "queue_waiting": f"max(max_over_time(vllm:num_requests_waiting{{{labels}}}[{window}]))",
    }


def presence_query(sel: Selector) -> str:
    return f"count(vllm:num_requests_running{{{sel.labels()}}})"


def value_of(result: list[dict[str, Any]]) -> float | None:
    """The first sample of an instant-vector result; None when empty, NaN or infinite."""
    if not result:
        return None
    try:
        value = float(result[0]["value"][1])  # Prometheus sends "NaN", "+Inf" as strings
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusSource:
    """Reads vLLM metrics from one Prometheus server."""

    def __init__(self, url: str, *, timeout_s: int = DEFAULT_TIMEOUT_S, retries: int = 1) -> None:
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        self.url = url.rstrip("/")
        # prometheus-api-client retries 3 times with 1 s backoff by default; a digest should fail fast.
        retry = Retry(total=retries, backoff_factor=0.2, status_forcelist=[502, 503, 504])
        self._client = PrometheusConnect(url=self.url, disable_ssl=True, timeout=timeout_s, retry=retry)

    def query(self, promql: str, *, at: datetime | None = None) -> list[dict[str, Any]]:
        """Run one instant query.

        Raises:
            MetricsUnavailableError: unreachable, timed out, or a non-200 answer (bad query).
        """
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        params = {"time": f"{at.timestamp():.3f}"} if at is not None else None
        try:
            result: list[dict[str, Any]] = self._client.custom_query(query=promql, params=params)
        except PrometheusApiClientException as exc:
            raise MetricsUnavailableError(
                f"Prometheus at {self.url} rejected a query: {str(exc)[:300]}. Query: {promql}"
            ) from exc
        except requests.RequestException as exc:
            raise MetricsUnavailableError(
                f"Prometheus at {self.url} is not reachable ({type(exc).__name__}). Check PROMETHEUS_URL "
                "and that the server is up; the next digest will try again."
            ) from exc
        return result

    def close(self) -> None:
        self._client.close()

    def observe(
        self, model_name: str, *, namespace: str | None = None, window: str = "1h", at: datetime | None = None
    ) -> ObservedMetrics:
        """vLLM metrics of model_name over the window ending at `at` (now when None).

        Raises:
            InvalidInputError: the window is not a Prometheus duration.
            MetricsUnavailableError: see `query`.
        """
        return observe(lambda q: self.query(q, at=at), model_name, namespace=namespace, window=window)


def observe(
    query: Query, model_name: str, *, namespace: str | None = None, window: str = "1h"
) -> ObservedMetrics:
    """Build ObservedMetrics with any query function (the server's, or a test's)."""
    window_s = parse_window_s(window)
    window = window.strip()
    sel = Selector(model_name, namespace)
    found = bool(query(presence_query(sel)))
    latencies: dict[str, LatencyStats] = {}
    buckets: dict[str, tuple[float, ...]] = {}
    for metric in HISTOGRAMS:
        values = {
            name: _seconds_to_ms(query(quantile_query(metric, q, sel, window)))
            for name, q in QUANTILES.items()
        }
        values["mean_ms"] = _seconds_to_ms(query(mean_query(metric, sel, window)))
        latencies[metric.value] = LatencyStats(**values)
        buckets[metric.value] = _bounds_ms(query(bounds_query(metric, sel)))
    scalars = {name: value_of(query(q)) for name, q in scalar_queries(sel, window).items()}
    return ObservedMetrics(
        model_name=model_name,
        window=window,
        window_s=window_s,
        series_found=found,
        namespace=namespace,
        buckets_ms=buckets,
        ttft=latencies["ttft"],
        itl=latencies["itl"],
        tpot=latencies["tpot"],
        e2e=latencies["e2e"],
        requests_per_s=scalars["requests_per_s"],
        output_tokens_per_s=scalars["output_tokens_per_s"],
        input_tokens_per_s=scalars["input_tokens_per_s"],
        kv_cache_usage=scalars["kv_cache_usage"],
        queue_waiting=scalars["queue_waiting"],
    )


def _seconds_to_ms(result: list[dict[str, Any]]) -> float | None:
    value = value_of(result)
    return None if value is None else round(value * 1000.0, 3)


def _bounds_ms(result: list[dict[str, Any]]) -> tuple[float, ...]:
    bounds = set()
    for sample in result:
        metric: Mapping[str, str] = sample.get("metric", {})
        try:
            le = float(metric.get("le", "nan"))
        except ValueError:
            continue
        if math.isfinite(le):
            bounds.add(round(le * 1000.0, 6))
    return tuple(sorted(bounds))
