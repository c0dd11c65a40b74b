"""Traffic profile: from a number of users to requests per second, with the arithmetic shown.

mean QPS = users × active fraction × requests per active user per minute ÷ 60
peak QPS = mean QPS × peak factor
A stated QPS replaces the derivation (it is taken as the peak to plan for); "N concurrent users"
means every one of them is active.
"""

from __future__ import annotations

from pydantic import ValidationError

from planner.errors import InvalidInputError
from planner.spec import MAX_QPS, TrafficProfile, describe_validation_error
from planner.types import ArrivalKind, TrafficDefaults

RATE_NOTE = "request rate from the stated volume: "  # the spec's notes on how its rate was derived
USERS_NOTE = "user count estimated from "


def without_rate_notes(notes: list[str]) -> list[str]:
    """The spec's notes less those that explain a request rate or user count (once either changes)."""
    return [n for n in notes if not n.startswith((RATE_NOTE, USERS_NOTE))]


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


def traffic_profile(
    users: int,
    defaults: TrafficDefaults,
    *,
    qps: float | None = None,
    mean_qps: float | None = None,
    user_requests_per_min: float | None = None,
    concurrent_users: int | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    arrival: ArrivalKind = ArrivalKind.POISSON,
) -> TrafficProfile:
    """Return the traffic profile for `users` people with a use case's defaults.

    Raises:
        InvalidInputError: users below 1, or a QPS that is not above 0 or is absurdly high.
    """
    if users < 1:
        raise InvalidInputError(f"user_count={users}: needs at least 1 user; give the number of people")
    for name, rate in (("qps", qps), ("mean qps", mean_qps)):
        if rate is not None and not 0 < rate <= MAX_QPS:
            raise InvalidInputError(
                f"{name}={rate:g}: must be above 0 and at most {MAX_QPS:,.0f}; e.g. --qps 20"
            )
    active = 1.0 if concurrent_users or user_requests_per_min else defaults.active_fraction
    rpm = user_requests_per_min or defaults.requests_per_active_user_per_min
    if qps is not None:
        mean = peak = float(qps)
        derivation = f"{_num(qps)} req/s as stated (planned as the peak; users do not change it)"
    elif mean_qps is not None:  # a volume over a day or longer: its mean, peaking like the use case
        mean, peak = float(mean_qps), mean_qps * defaults.peak_factor
        derivation = (
            f"{_num(mean)} req/s mean from the stated volume; × peak factor {defaults.peak_factor:g} "
            f"= {_num(peak)} req/s peak (users do not change it)"
        )
    else:
        mean = users * active * rpm / 60.0
        peak = mean * defaults.peak_factor
        who = (
            f"{users:,} concurrent users"
            if concurrent_users
            else f"{users:,} users at work"
            if user_requests_per_min
            else f"{users:,} users × {active:.0%} active"
        )
        derivation = (
            f"{who} × {_num(rpm)} req/min ÷ 60 = {_num(mean)} req/s mean; "
            f"× peak factor {defaults.peak_factor:g} = {_num(peak)} req/s peak"
        )
    if peak > MAX_QPS:
        raise InvalidInputError(
            f"{derivation}: more than {MAX_QPS:,.0f} req/s; check the user count or give --qps"
        )
    # the template's shared prefix, at most half of a prompt length stated in its place
    prefix = min(defaults.prefix_tokens, input_tokens // 2) if input_tokens else defaults.prefix_tokens
    try:
        return TrafficProfile(
            mean_qps=mean,
            peak_qps=peak,
            arrival=arrival,
            input_tokens_mean=input_tokens or defaults.input_tokens_mean,
            input_tokens_std=0 if input_tokens else defaults.input_tokens_std,
            output_tokens_mean=output_tokens or defaults.output_tokens_mean,
            output_tokens_std=0 if output_tokens else defaults.output_tokens_std,
            prefix_tokens=prefix,
            active_fraction=active,
            requests_per_active_user_per_min=rpm,
            peak_factor=defaults.peak_factor,
            qps_given=qps is not None or mean_qps is not None,
            users_at_work=bool(user_requests_per_min) and qps is None and mean_qps is None,
            derivation=derivation,
        )
    except ValidationError as exc:  # a stated length out of range: say which and what to give
        raise InvalidInputError(describe_validation_error(exc)) from None
