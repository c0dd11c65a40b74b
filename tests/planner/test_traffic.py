"""Traffic profile arithmetic."""

from __future__ import annotations

import pytest

from planner.errors import InvalidInputError
from planner.traffic import traffic_profile
from planner.types import TrafficDefaults

D = TrafficDefaults(
    600,
    300,
    250,
    150,
    requests_per_active_user_per_min=0.5,
    active_fraction=0.1,
    peak_factor=2.0,
    prefix_tokens=200,
)


def test_users_to_qps():
    t = traffic_profile(1000, D)
    assert t.mean_qps == pytest.approx(1000 * 0.1 * 0.5 / 60)
    assert t.peak_qps == pytest.approx(t.mean_qps * 2)
    assert (
        t.derivation
        == "1,000 users × 10% active × 0.5 req/min ÷ 60 = 0.833 req/s mean; × peak factor 2 = 1.67 req/s peak"
    )


def test_stated_qps_overrides_users():
    t = traffic_profile(1000, D, qps=40)
    assert (t.mean_qps, t.peak_qps, t.qps_given) == (40, 40, True)
    assert "as stated" in t.derivation


def test_concurrent_users_are_all_active():
    t = traffic_profile(500, D, concurrent_users=500)
    assert t.active_fraction == 1.0 and t.mean_qps == pytest.approx(500 * 0.5 / 60)
    assert "500 concurrent users" in t.derivation


def test_stated_token_lengths_replace_the_template():
    t = traffic_profile(10, D, input_tokens=2000, output_tokens=100)
    assert (t.input_tokens_mean, t.input_tokens_std, t.output_tokens_mean, t.output_tokens_std) == (
        2000,
        0,
        100,
        0,
    )


@pytest.mark.parametrize(("users", "qps"), [(0, None), (10, -3.0), (10, 0.0), (10, 1e9)])
def test_out_of_range(users, qps):
    with pytest.raises(InvalidInputError):
        traffic_profile(users, D, qps=qps)
