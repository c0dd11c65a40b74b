"""Ranking: weights from priorities, scores, Pareto flags, views."""

from __future__ import annotations

from planner.rank import Metrics, View, pareto_flags, scores, view_order, weights_for
from planner.spec import Level, Priorities

CHEAP = Metrics(1000, 0.8, 0.60, 1)
FAST = Metrics(4000, 0.1, 0.62, 4)
SMART = Metrics(8000, 0.5, 0.85, 8)
WORSE = Metrics(9000, 0.9, 0.55, 8)  # dominated by every other one
ALL = [CHEAP, FAST, SMART, WORSE]


def test_pareto_flags_drop_only_dominated_options():
    assert pareto_flags(ALL) == [True, True, True, False]


def test_weights_follow_priorities():
    w = weights_for(Priorities(cost=Level.HIGH, latency=Level.LOW))
    assert w["cost"] > w["quality"] > w["latency"]


def test_priorities_change_the_winner():
    def best(p):
        s = scores(ALL, weights_for(p))
        return ALL[max(range(len(ALL)), key=s.__getitem__)]

    assert best(Priorities(cost=Level.HIGH)) is CHEAP
    assert best(Priorities(accuracy=Level.HIGH, cost=Level.LOW)) is SMART
    assert best(Priorities(latency=Level.HIGH, cost=Level.LOW, accuracy=Level.LOW)) is FAST


def test_scores_are_between_0_and_1_and_the_dominated_one_is_last():
    s = scores(ALL, weights_for(Priorities()))
    assert all(0 <= x <= 1 for x in s) and min(s) == s[3]


def test_views():
    s = scores(ALL, weights_for(Priorities()))
    assert view_order(ALL, s, View.CHEAPEST)[0] == 0
    assert view_order(ALL, s, View.FASTEST)[0] == 1
    assert view_order(ALL, s, View.MOST_ACCURATE)[0] == 2
    assert view_order(ALL, s, View.SIMPLEST)[0] == 0
    assert scores([], {}) == [] and pareto_flags([]) == []
