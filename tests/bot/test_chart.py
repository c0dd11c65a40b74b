"""The plan chart: a PNG with points, frontier and SLO line; and one for 'nothing meets the SLO'."""

from __future__ import annotations

import pytest

from bot.chart import cost_latency_frontier, render_plan_chart
from planner.intent import extract
from planner.perf import default_params
from planner.pipeline import plan
from tests.planner.catalog_fixture import fixture_catalog

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def catalog():
    return fixture_catalog()


def test_chart_of_a_plan_is_a_png(catalog):
    result = plan(
        extract("support chatbot for 1000 users", catalog=catalog), catalog, params=default_params(), top_k=8
    )
    png = render_plan_chart(result)
    assert png.startswith(PNG) and len(png) > 10_000


def test_chart_when_nothing_meets_the_slo(catalog):
    result = plan(
        extract("chatbot for 10 users, TTFT 1 ms", catalog=catalog), catalog, params=default_params()
    )
    assert result.options == []
    assert render_plan_chart(result).startswith(PNG)


def test_cost_latency_frontier():
    pts = [(100, 5.0), (50, 9.0), (200, 4.0), (120, 6.0), (60, 9.5)]
    assert cost_latency_frontier(pts) == [(50, 9.0), (100, 5.0), (200, 4.0)]


def test_points_on_top_of_each_other_share_one_label():
    """Two options at the same cost and nearly the same TTFT read '#7,#8', not two labels printed
    over each other; points apart keep their own."""
    from bot.chart import _label_groups

    points = [(261.0, 1090.0, 7), (261.5, 1090.0, 8), (40.0, 1350.0, 2), (108.0, 940.0, 1)]
    labels = sorted(label for _, _, label in _label_groups(points, log_y=False, target=500.0))
    assert labels == ["#1", "#2", "#7,#8"]
