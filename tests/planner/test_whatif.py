"""What-if: parsing changes, applying them, comparing scenarios."""

from __future__ import annotations

import pytest

from planner.errors import InvalidInputError, UnknownNameError
from planner.intent import extract
from planner.perf import default_params
from planner.pipeline import plan
from planner.whatif import apply_changes, compare, parse_changes

PARAMS = default_params()


def test_parse_changes_with_aliases():
    assert parse_changes("gpu=A100-80GB, ttft=200,budget=5000") == [
        ("gpu", "A100-80GB"),
        ("ttft_ms", "200"),
        ("budget_usd_month", "5000"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("gpu", "KEY=VALUE"),
        ("colour=red", "unknown what-if key"),
        ("ttft_msx=3", "did you mean ttft_ms"),
        ("", "empty"),
    ],
)
def test_parse_errors_are_actionable(text, needle):
    with pytest.raises(InvalidInputError) as err:
        parse_changes(text)
    assert needle in str(err.value)


def test_apply_changes(catalog):
    spec = extract("support chatbot for 1000 users on H100", catalog=catalog)
    v = apply_changes(
        spec, parse_changes("gpu=A100,ttft_ms=200,users=3000,precision=fp8,priority=cost"), catalog
    )
    assert v.preferred_gpu_types == ["A100-80GB"] and v.slo.ttft_ms == 200 and v.user_count == 3000
    assert v.traffic.peak_qps == pytest.approx(spec.traffic.peak_qps * 3)
    assert v.precision == "fp8" and v.priorities.cost == "high"
    assert apply_changes(spec, [("gpu", "any")], catalog).preferred_gpu_types == []
    q = apply_changes(spec, [("qps", "25")], catalog)
    assert q.traffic.peak_qps == 25 and q.traffic.qps_given


def test_a_relative_change_scales_the_specs_own_value(catalog):
    """users=x10, qps=x2, budget_usd_month=x0.5, ttft_ms=x2: factors of what the spec has."""
    spec = extract("support chatbot for 1000 users, budget $4,000 a month", catalog=catalog)
    v = apply_changes(spec, parse_changes("users=x10, budget=x0.5, ttft_ms=2x"), catalog)
    assert v.user_count == 10_000 and v.traffic.peak_qps == pytest.approx(spec.traffic.peak_qps * 10)
    assert v.budget_usd_month == 2000 and v.slo.ttft_ms == 2 * spec.slo.ttft_ms
    rated = extract("support chatbot at 20 qps", catalog=catalog)
    assert apply_changes(rated, [("users", "x3")], catalog).traffic.peak_qps == pytest.approx(
        60
    )  # the rate follows
    assert apply_changes(rated, [("qps", "×0.5")], catalog).traffic.peak_qps == pytest.approx(10)
    with pytest.raises(InvalidInputError, match="no budget to scale"):
        apply_changes(rated, [("budget_usd_month", "x2")], catalog)
    with pytest.raises(InvalidInputError, match="at most 1000"):
        apply_changes(rated, [("users", "x5000")], catalog)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("gpu", "H1000"), UnknownNameError),
        (("ttft_ms", "0"), InvalidInputError),
        (("users", "abc"), InvalidInputError),
        (("users", str(10**12)), InvalidInputError),
        (("percentile", "p42"), InvalidInputError),
    ],
)
def test_bad_values(catalog, change, error):
    spec = extract("chatbot for 10 users", catalog=catalog)
    with pytest.raises(error):
        apply_changes(spec, [change], catalog)


def test_compare_diffs_against_the_base_and_shares_the_rate_cache(catalog):
    spec = extract("support chatbot for 1000 users", catalog=catalog)
    cache: dict = {}
    c = compare(spec, ["gpu=A100-80GB", "users=3000", "ttft_ms=1"], catalog, params=PARAMS, cache=cache)
    assert c.base.best is not None and [s.label for s in c.scenarios] == [
        "gpu=A100-80GB",
        "users=3000",
        "ttft_ms=1",
    ]
    a100, users, impossible = c.scenarios
    assert a100.best.gpu_type == "A100-80GB" and "cost_per_month_usd" in a100.diff
    assert users.best.predicted.max_qps >= spec.traffic.peak_qps * 3
    assert impossible.best is None and impossible.relax and impossible.diff == {"best": "none meets the SLO"}
    assert cache  # rates computed once, reused across scenarios


def test_a_comparison_says_which_differences_the_model_cannot_tell_apart(catalog):
    from dataclasses import replace

    spec = extract("support chatbot for 1000 users", catalog=catalog)
    assert compare(spec, ["gpu=A100-80GB"], catalog, params=PARAMS).notes == []  # priors: no measured error
    held_out = {
        "ttft_ms": {"median_pct": 29.5, "p90_pct": 87.2},
        "itl_tpot_ms": {"median_pct": 14.7, "p90_pct": 39.8},
    }
    c = compare(
        spec, ["gpu=A100-80GB"], catalog, params=replace(PARAMS, fit_info={"held_out_error": held_out})
    )
    assert len(c.notes) == 1 and "TTFT ±30%" in c.notes[0] and "within the model's error" in c.notes[0]


def test_what_ifs_through_a_shared_cache_plan_as_if_planned_alone(catalog):
    """The cache keeps SLO-independent work (curves, fits, predictions) across scenarios: whatever the
    order, each scenario's plan equals its plan without a cache."""
    spec = extract("support chatbot for 1000 users, latency matters", catalog=catalog)
    changes = ["ttft_ms=300", "users=3000", "tpot_ms=30", "ttft_ms=2000,e2e_ms=60000", "percentile=p99"]
    cache: dict = {}
    plan(spec, catalog, params=PARAMS, cache=cache)
    for text in [*changes, *reversed(changes)]:
        variant = apply_changes(spec, parse_changes(text), catalog)
        assert plan(variant, catalog, params=PARAMS, cache=cache) == plan(variant, catalog, params=PARAMS), (
            text
        )
    assert any(k[0] == "curves" and {"p95", "p99"} <= set(v) for k, v in cache.items())  # one per percentile


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("ttft_ms", 200.0, "TTFT 200 ms"),
        ("user_count", 5000, "5,000 users"),
        ("gpu", "L40S", "L40S"),
        ("model", "meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct"),
        ("budget", "5000", "budget $5,000/month"),
        ("priority", "cost", "priority=cost"),
        ("user_count", "x10", "10× users"),
        ("qps", "x2", "2× traffic"),
        ("budget_usd_month", "x0.5", "0.5× budget"),
        ("ttft_ms", "x2", "2× TTFT"),
    ],
)
def test_a_change_reads_as_words_in_a_comparison_title(key, value, words):
    from planner.whatif import describe_change

    assert describe_change(key, value) == words


def test_a_mean_rate_what_if_plans_the_use_cases_peak_above_it(catalog):
    from planner.intent import extract
    from planner.whatif import apply_changes

    spec = extract("support chatbot for 1000 users", catalog=catalog)
    changed = apply_changes(spec, [("mean_qps", "2")], catalog)
    assert changed.traffic.mean_qps == pytest.approx(2.0)
    assert changed.traffic.peak_qps == pytest.approx(2.0 * spec.traffic.peak_factor)
    assert changed.traffic.qps_given  # the users no longer set it


def test_a_new_rate_drops_the_notes_that_explained_the_old_one(catalog):
    from planner.intent import extract
    from planner.whatif import apply_changes

    spec = extract("summarize 50k contracts a day", catalog=catalog)
    assert any(n.startswith("request rate from the stated volume") for n in spec.notes)
    for change in (("qps", "3"), ("users", "300")):
        changed = apply_changes(spec, [change], catalog)
        assert not any(n.startswith(("request rate from", "user count estimated")) for n in changed.notes)
