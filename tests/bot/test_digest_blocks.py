"""The outcome digest's Block Kit messages: content, verdict marks, notes, and Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot import digest_blocks
from planner.corrections import Corrections
from planner.outcomes import LatencyStats, ObservedMetrics, compare
from planner.plan import Predicted
from planner.types import SloTargets

TTFT_BOUNDS = (100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0)
PREDICTED = Predicted(
    ttft_ms=200.0, tpot_ms=20.0, e2e_ms=4000.0, throughput_rps=2.0, max_qps=8.0, percentile="p95"
)
SLO = SloTargets(ttft_ms=500.0, itl_ms=25.0, e2e_ms=10_000.0, percentile="p95")


def observed(ttft_p95: float | None = 300.0, rps: float | None = 1.8, **kw: Any) -> ObservedMetrics:
    values: dict[str, Any] = {
        "model_name": "llama-h100",
        "window": "1h",
        "window_s": 3600.0,
        "namespace": "team-a",
        "ttft": LatencyStats(p95_ms=ttft_p95, mean_ms=ttft_p95) if ttft_p95 else LatencyStats(),
        "tpot": LatencyStats(p95_ms=30.0) if ttft_p95 else LatencyStats(),
        "e2e": LatencyStats(p95_ms=3500.0) if ttft_p95 else LatencyStats(),
        "requests_per_s": rps,
        "output_tokens_per_s": 400.0,
        "kv_cache_usage": 0.55,
        "queue_waiting": 4.0,
        "buckets_ms": {"ttft": TTFT_BOUNDS},
    }
    return ObservedMetrics(**(values | kw))


def digest(o: ObservedMetrics, corrections: Corrections | None = None) -> dict[str, Any]:
    c = compare(o, predicted=PREDICTED, targets=SLO)
    return digest_blocks.digest_message(o, c, title="Outcome of option 1", corrections=corrections)


def assert_valid_for_slack(message: dict[str, Any]) -> None:
    assert message["text"] and len(message["text"]) <= 3000
    assert 1 <= len(message["blocks"]) <= 50
    assert len(json.dumps(message["blocks"])) < 12_000
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # slack_sdk's own limits (text lengths, element counts)


def test_digest_table_marks_and_headline() -> None:
    m = digest(observed())
    assert_valid_for_slack(m)
    assert m["text"] == "Outcome of option 1: SLO missed at p95: TPOT"
    body = json.dumps(m["blocks"], ensure_ascii=False)
    table = m["blocks"][2]["text"]["text"]
    assert table.startswith("```\np95 metric")
    ttft, tpot, e2e = table.splitlines()[2:5]
    assert ttft.split() == ["TTFT", "300", "ms", "200", "ms", "+50%", "500", "ms", "✓"]
    assert tpot.split() == ["TPOT", "30.0", "ms", "20.0", "ms", "+50%", "25.0", "ms", "✗"]
    assert e2e.split() == ["E2E", "3,500", "ms", "4,000", "ms", "-12%", "10.0", "s", "✓"]
    assert "1.80 req/s observed (planned 2.00)" in body and "KV cache peak 55%" in body
    assert "`llama-h100` in `team-a`" in body


def test_digest_all_met() -> None:
    m = digest(observed(tpot=LatencyStats(p95_ms=18.0)))
    assert m["text"].endswith("SLO met at p95")


def test_coarse_bucket_note_and_inexact_mark() -> None:
    # 450 ms in the 250-500 ms bucket: 2x wide, and the 500 ms target is its bound, so the verdict is exact
    narrowish = digest(observed(ttft_p95=450.0))
    assert "cannot be checked exactly" not in json.dumps(narrowish["blocks"])
    # a 1.6 s p95 sits in the 1-2.5 s bucket: coarse, noted
    m = digest(observed(ttft_p95=1600.0))
    notes = m["blocks"][-1]["elements"][0]["text"]
    assert notes.startswith("Note: p95 TTFT lies in the 1 s–2.5 s histogram bucket")
    inexact = compare(
        observed(ttft_p95=1600.0), predicted=PREDICTED, targets=SloTargets(2000.0, 25.0, 10_000.0)
    )
    table = digest_blocks.table_text(inexact)
    assert table.splitlines()[1].endswith("✓~")


def test_corrections_note_is_shown() -> None:
    c = Corrections(
        ttft=1.12, confidence=0.4, outcomes=3, scope="model×GPU", note="corrected by +12% TTFT from 3"
    )
    m = digest(observed(), corrections=c)
    assert m["blocks"][-1]["elements"][0]["text"] == (
        "Future plans for this model and GPU are corrected by +12% TTFT from 3."
    )
    assert "Future plans" not in json.dumps(digest(observed(), corrections=Corrections())["blocks"])


def test_no_traffic_digest() -> None:
    m = digest(observed(ttft_p95=None, rps=0.0))
    assert_valid_for_slack(m)
    assert "no traffic in the last 1h" in m["text"]


def test_no_series_digest_names_the_selector() -> None:
    m = digest(observed(ttft_p95=None, rps=None, series_found=False))
    assert_valid_for_slack(m)
    assert 'model_name="llama-h100", namespace="team-a"' in m["blocks"][0]["text"]["text"]
    assert m["text"].endswith("no vLLM metrics found")


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (digest_blocks.not_configured_message(), "No metrics source configured: set PROMETHEUS_URL"),
        (
            digest_blocks.unavailable_message("Prometheus at http://p:9090 is not reachable"),
            "is not reachable",
        ),
        (digest_blocks.nothing_deployed_message(), "Nothing to observe in this thread yet"),
    ],
)
def test_status_messages(message: dict[str, Any], needle: str) -> None:
    assert_valid_for_slack(message)
    assert needle in message["text"]


def test_a_very_long_reason_is_clipped() -> None:
    m = digest_blocks.unavailable_message("x" * 10_000)
    assert_valid_for_slack(m)
