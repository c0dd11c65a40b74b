"""A real Prometheus (Debian's /usr/bin/prometheus, 1 s scrapes) scraping the simulator under a short
load; the adapter and `observe_deployment` read it, and agree with the simulator's own /metrics."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.loadgen import LoadSpec, run_load
from tests.workers.outcome_fixtures import SERVED_NAME, plan_dict, store_thread
from workers import records
from workers.observe import observe_deployment
from workers.prometheus import PrometheusSource
from workers.settings import WorkerSettings

pytestmark = [pytest.mark.slow, pytest.mark.prometheus]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prometheus_binary() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is required under CI (Debian package prometheus)")
        pytest.skip("prometheus is not installed")
    return path


def _wait(
    check: object, what: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 15.0
) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{what}: process exited: {log.read_text()[-2000:]}")
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(simulator URL, Prometheus URL), with Prometheus having scraped the idle simulator once."""
    prometheus = _prometheus_binary()
    sim_port, prom_port = _free_port(), _free_port()
    sim_log, prom_log = tmp_path / "sim.log", tmp_path / "prom.log"
    sim_url, prom_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{prom_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: vllm\n    static_configs: [{{targets: ['127.0.0.1:{sim_port}']}}]\n"
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with sim_log.open("wb") as out:
            cmd = [
                sys.executable,
                "-m",
                "simulator",
                "--model",
                SERVED_NAME,
                "--port",
                str(sim_port),
                "--seed",
                "3",
            ]
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=out))
        _wait(
            lambda: httpx.get(f"{sim_url}/health", timeout=1).status_code == 200,
            "simulator",
            procs[0],
            sim_log,
        )
        with prom_log.open("wb") as out:
            cmd = [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ]
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=out))

        def scraped() -> bool:
            r = httpx.get(f"{prom_url}/api/v1/query", params={"query": 'up{job="vllm"} == 1'}, timeout=1)
            return r.status_code == 200 and bool(r.json()["data"]["result"])

        _wait(scraped, "the first scrape", procs[1], prom_log)
        yield sim_url, prom_url
    finally:
        for proc in reversed(procs):
            _stop(proc)
        records.forget()


def _wait_for_scrape(prom_url: str, count: float, timeout_s: float = 10.0) -> None:
    """Until Prometheus has scraped the simulator after the last request finished."""
    query = "sum(vllm:time_to_first_token_seconds_count)"
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        result = httpx.get(f"{prom_url}/api/v1/query", params={"query": query}, timeout=1).json()["data"][
            "result"
        ]
        if result and float(result[0]["value"][1]) == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus did not scrape the final count {count} in {timeout_s} s")


def _histogram(text: str, family: str) -> tuple[list[tuple[float, float]], float, float]:
    """([(le, cumulative count)], sum, count) of one family in the exposition text."""
    buckets, total, count = [], 0.0, 0.0
    for line in text.splitlines():
        if line.startswith(f"{family}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(le.replace("+Inf", "inf")), float(line.rsplit(" ", 1)[1])))
        elif line.startswith(f"{family}_sum{{"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith(f"{family}_count{{"):
            count = float(line.rsplit(" ", 1)[1])
    return buckets, total, count


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile on cumulative buckets."""
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def test_observed_ttft_matches_the_simulators_own_metrics(
    stack: tuple[str, str], seeded_sqlite_template: Path, tmp_path: Path
) -> None:
    sim_url, prom_url = stack
    spec = LoadSpec(
        url=sim_url, model=SERVED_NAME, input_tokens=256, output_tokens=32, duration_s=2.0, rate_per_s=25.0
    )
    report = asyncio.run(run_load(spec))
    assert report.errors == 0 and report.requests >= 40

    text = httpx.get(f"{sim_url}/metrics", timeout=2).text
    buckets, ttft_sum_s, ttft_count = _histogram(text, "vllm:time_to_first_token_seconds")
    assert ttft_count == report.requests
    _wait_for_scrape(prom_url, ttft_count)
    source = PrometheusSource(prom_url)
    try:
        got = source.observe(SERVED_NAME, window="1m")
    finally:
        source.close()
    assert got.series_found and got.has_traffic
    sim_p90, sim_p95 = _quantile(0.9, buckets) * 1000, _quantile(0.95, buckets) * 1000
    sim_mean = ttft_sum_s / ttft_count * 1000
    print(
        f"\n{ttft_count:.0f} requests; TTFT mean {got.ttft.mean_ms} ms (simulator {sim_mean:.3f}), "
        f"p90 {got.ttft.p90_ms} (simulator {sim_p90:.3f}), p95 {got.ttft.p95_ms} (simulator {sim_p95:.3f})"
    )
    # Prometheus scraped the idle simulator first and again after the last request, so the window
    # holds every request exactly once: the figures match the simulator's own histogram.
    assert got.ttft.mean_ms == pytest.approx(sim_mean, rel=0.01)
    assert got.ttft.p90_ms == pytest.approx(sim_p90, rel=0.01)
    assert got.ttft.p95_ms == pytest.approx(sim_p95, rel=0.01)
    assert got.requests_per_s and got.requests_per_s > 0
    assert got.output_tokens_per_s and got.output_tokens_per_s > got.requests_per_s
    assert got.tpot.p95_ms is not None and got.itl.p50_ms is not None and got.e2e.p99_ms is not None
    assert got.buckets_ms["ttft"][:3] == (1.0, 5.0, 10.0)  # read from the `le` labels, in ms

    shutil.copyfile(seeded_sqlite_template, tmp_path / "kb.db")
    settings = WorkerSettings(
        redis_url=None, database_url=f"sqlite:///{tmp_path / 'kb.db'}", prometheus_url=prom_url
    )
    store_thread(settings, plan=plan_dict())
    summary = observe_deployment("plan-1-option-1", "1m", settings=settings)
    assert summary["configured"] and summary["has_traffic"]
    assert summary["model_name"] == SERVED_NAME
    assert summary["observed"]["ttft"]["mean_ms"] == pytest.approx(got.ttft.mean_ms, rel=0.05)
    ttft_row = summary["compliance"]["ttft"]
    assert ttft_row["predicted_ms"] == 200.0 and ttft_row["target_ms"] == 500.0
    assert ttft_row["observed_ms"] == pytest.approx(got.ttft.p95_ms, rel=0.1)
