"""The adapter's PromQL, evaluated offline by `promtool test rules` over synthetic vLLM histograms.

Each expr in tests/workers/promql/*.yml must be one the adapter generates, so the files cannot drift
from workers/prometheus.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from planner.outcomes import Metric
from workers.prometheus import (
    HISTOGRAMS,
    QUANTILES,
    Selector,
    bounds_query,
    mean_query,
    presence_query,
    quantile_query,
    scalar_queries,
)

PROMQL_DIR = Path(__file__).parent / "promql"
TEST_FILES = sorted(PROMQL_DIR.glob("*.yml"))
MODELS = ("m", "other", "idle", "absent", "old")


def promtool() -> str:
    path = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required under CI (Debian package prometheus)")
        pytest.skip("promtool is not installed")
    return path


def adapter_queries(window: str = "5m") -> set[str]:
    out: set[str] = set()
    for model in MODELS:
        sel = Selector(model)
        out.add(presence_query(sel))
        out.update(scalar_queries(sel, window).values())
        for metric in HISTOGRAMS:
            out.add(mean_query(metric, sel, window))
            out.add(bounds_query(metric, sel))
            out.update(quantile_query(metric, q, sel, window) for q in QUANTILES.values())
    return out


def test_there_are_promql_test_files() -> None:
    assert TEST_FILES, f"no *.yml in {PROMQL_DIR}"


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_every_expr_is_one_the_adapter_generates(path: Path) -> None:
    generated = adapter_queries()
    doc = yaml.safe_load(path.read_text())
    exprs = [t["expr"] for group in doc["tests"] for t in group["promql_expr_test"]]
    assert exprs
    for expr in exprs:
        assert expr.removesuffix(" >= 0") in generated, expr


@pytest.mark.prometheus
@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_evaluates_the_queries_as_expected(path: Path) -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.prometheus
def test_promtool_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness can fail: the p90 of model m is not 0.6."""
    text = (
        TEST_FILES[0]
        .read_text()
        .replace("exp_samples: [{labels: '{}', value: 0.5}]", "exp_samples: [{labels: '{}', value: 0.6}]", 1)
    )
    broken = tmp_path / "broken.yml"
    broken.write_text(text)
    done = subprocess.run(
        [promtool(), "test", "rules", str(broken)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_queries_sum_by_le_before_histogram_quantile() -> None:
    q = quantile_query(Metric.TTFT, 0.9, Selector("llama", "team-a"), "1h")
    assert q == (
        "histogram_quantile(0.9, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket"
        '{model_name="llama",namespace="team-a"}[1h])))'
    )


def test_label_values_are_escaped() -> None:
    assert Selector('a"b\\c').labels() == 'model_name="a\\"b\\\\c"'
