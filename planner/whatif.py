"""What-if: re-plan a spec with a few parameters changed and show the scenarios side by side.

    parse_changes("gpu=A100-80GB,ttft_ms=200") -> [("gpu", "A100-80GB"), ("ttft_ms", "200")]
    apply_changes(spec, changes, catalog) -> DeploymentSpec
    compare(spec, scenarios, catalog, params=...) -> Comparison

Scenarios share one cache (`planner.capacity`, `planner.search`): a change that keeps the workload
and SLO (users, QPS, budget, GPU count) re-plans without recomputing the performance model's rates;
one on the SLO keeps the memory and step-time terms, the latency-vs-rate curves behind each rate
(`planner.rate_cache`) and the predictions at a load, and only compares them with the new targets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from planner.catalog import Catalog
from planner.errors import InvalidInputError, close_matches
from planner.perf import accuracy_note
from planner.perf_params import PerfParams, default_params
from planner.pipeline import plan
from planner.plan import Option, PlanResult
from planner.search import RateCache
from planner.spec import MAX_USERS, DeploymentSpec, Level, Percentile, Priorities, check_spec
from planner.traffic import traffic_profile, without_rate_notes
from planner.types import DeploymentOutcome, Precision, TrafficDefaults

KEYS: dict[str, str] = {
    "gpu": "GPU type, e.g. gpu=A100-80GB (use 'any' to drop the preference)",
    "model": "model id or alias, e.g. model=llama-3.1-8b ('any' drops it)",
    "ttft_ms": "time-to-first-token target, ms",
    "tpot_ms": "time-per-output-token target, ms",
    "e2e_ms": "end-to-end target, ms",
    "percentile": "p50 | p90 | p95 | p99",
    "users": "number of users, or a factor: users=x10",
    "qps": "peak requests per second, or a factor: qps=x2",
    "mean_qps": "average requests per second (the use case's peak factor plans above it)",
    "precision": "bf16 | fp16 | fp8 | int8 | int4 ('any' lets the planner choose)",
    "budget_usd_month": "monthly budget, USD, or a factor: budget_usd_month=x0.5",
    "max_gpus": "most GPUs in total",
    "provider": "cloud provider, e.g. aws",
    "priority": "latency | cost | accuracy | balanced",
}


def describe_change(key: str, value: object) -> str:
    """A change in words for a comparison's title ("TTFT 200 ms", "5,000 users", "A100-80GB")."""
    key = ALIASES.get(key, key)
    factor = relative_factor(value)
    if factor is not None and key in SCALABLE:
        return f"{factor:g}× {SCALABLE[key]}"
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        number = None
    if number is None:
        if key == "precision" and str(value).lower() in ("any", "none", ""):
            return "any precision"
        return f"{key}={value}" if key in ("priority", "provider") else str(value).rsplit("/", 1)[-1]
    words = _CHANGE_WORDS.get(key)
    return words.format(number) if words else f"{key}={value}"


_CHANGE_WORDS = {
    "ttft_ms": "TTFT {:,.0f} ms",
    "tpot_ms": "TPOT {:,.4g} ms",
    "e2e_ms": "e2e {:,.0f} ms",
    "users": "{:,.0f} users",
    "qps": "{:,.4g} req/s",
    "mean_qps": "{:,.4g} req/s mean",
    "budget_usd_month": "budget ${:,.0f}/month",
    "max_gpus": "at most {:,.0f} GPUs",
}


ALIASES = {
    "budget": "budget_usd_month",
    "tpot": "tpot_ms",
    "ttft": "ttft_ms",
    "e2e": "e2e_ms",
    "itl_ms": "tpot_ms",
    "gpus": "max_gpus",
    "user_count": "users",
    "gpu_type": "gpu",
    "model_id": "model",
}


def parse_changes(text: str) -> list[tuple[str, str]]:
    """'gpu=A100-80GB, ttft_ms=200' -> [('gpu', 'A100-80GB'), ('ttft_ms', '200')].

    Raises:
        InvalidInputError: a part without '=', or an unknown key (the message lists the keys).
    """
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = ALIASES.get(key.strip().lower(), key.strip().lower())
        if not sep or not value.strip():
            raise InvalidInputError(f"{part!r} is not KEY=VALUE; e.g. --vs gpu=A100-80GB or --vs ttft_ms=200")
        if key not in KEYS:
            near = close_matches(key, KEYS)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise InvalidInputError(f"unknown what-if key {key!r}{hint} Known keys: {', '.join(KEYS)}")
        out.append((key, value.strip()))
    if not out:
        raise InvalidInputError("an empty what-if; give KEY=VALUE, e.g. --vs gpu=A100-80GB")
    return out


def _number(key: str, value: str, *, integer: bool = False) -> float:
    try:
        number = float(value.replace(",", "").replace("_", ""))
    except ValueError:
        raise InvalidInputError(f"{key}={value!r} is not a number; {KEYS[key]}") from None
    if not number > 0 or (integer and number != int(number)):
        raise InvalidInputError(
            f"{key}={value}: must be a {'whole ' if integer else ''}number above 0; {KEYS[key]}"
        )
    return number


def _retraffic(
    spec: DeploymentSpec, *, users: int, qps: float | None, mean_qps: float | None = None
) -> dict[str, Any]:
    t = spec.traffic
    defaults = TrafficDefaults(
        t.input_tokens_mean,
        t.input_tokens_std,
        t.output_tokens_mean,
        t.output_tokens_std,
        t.requests_per_active_user_per_min,
        t.active_fraction,
        t.peak_factor,
        t.prefix_tokens,
    )
    concurrent = users if t.active_fraction >= 1.0 and not t.qps_given and not t.users_at_work else None
    per_user = t.requests_per_active_user_per_min if t.users_at_work else None
    return traffic_profile(
        users,
        defaults,
        qps=qps,
        mean_qps=mean_qps,
        user_requests_per_min=per_user,
        concurrent_users=concurrent,
        arrival=t.arrival,
    ).model_dump()


def _priorities(value: str) -> dict[str, Any]:
    choice = value.lower()
    if choice == "balanced":
        return Priorities().model_dump()
    if choice not in ("latency", "cost", "accuracy"):
        raise InvalidInputError(f"priority={value!r}: {KEYS['priority']}")
    return Priorities(**{choice: Level.HIGH}).model_dump()


_FACTOR = re.compile(r"\s*[x×*]\s*(\d+(?:\.\d+)?)\s*|\s*(\d+(?:\.\d+)?)\s*[x×]\s*")
# the keys a factor ("users=x10") may change, with what a comparison's title calls them
SCALABLE = {
    "users": "users",
    "qps": "traffic",
    "mean_qps": "traffic",
    "budget_usd_month": "budget",
    "ttft_ms": "TTFT",
    "tpot_ms": "TPOT",
    "e2e_ms": "E2E",
}


def relative_factor(value: object) -> float | None:
    """The factor of a relative change ("x10", "×0.5", "2x"), or None for an absolute value."""
    m = _FACTOR.fullmatch(str(value))
    return float(m.group(1) or m.group(2)) if m else None


def _current(spec: DeploymentSpec, key: str) -> float:
    if key == "users":
        return float(spec.user_count)
    if key in ("qps", "mean_qps"):
        return spec.traffic.peak_qps if key == "qps" else spec.traffic.mean_qps
    if key == "budget_usd_month":
        if spec.budget_usd_month is None:
            raise InvalidInputError(
                "there is no budget to scale; give one, e.g. 'what if the budget is $5,000 a month?'"
            )
        return spec.budget_usd_month
    return float(getattr(spec.slo, key))


def _absolute(spec: DeploymentSpec, key: str, value: str) -> str:
    """A relative change ("users=x10") as the value it makes of the spec's own."""
    factor = relative_factor(value)
    if factor is None or key not in SCALABLE:
        return value
    if not 0 < factor <= 1000:
        raise InvalidInputError(f"{key}={value}: a factor must be above 0 and at most 1000; {KEYS[key]}")
    new = _current(spec, key) * factor
    return str(max(round(new), 1)) if key == "users" else f"{new:.6g}"


def _apply_one(data: dict[str, Any], spec: DeploymentSpec, key: str, value: str, catalog: Catalog) -> None:
    factor = relative_factor(value) if key in SCALABLE else None
    value = _absolute(spec, key, value)
    anything = value.lower() in ("any", "none", "")
    if key == "gpu":
        gpu_id = None if anything else catalog.gpu(value).id
        data["preferred_gpu_types"] = [gpu_id] if gpu_id else []
        data["excluded_gpu_types"] = [g for g in data["excluded_gpu_types"] if g != gpu_id]
    elif key == "model":
        model_id = None if anything else catalog.model(value).id
        data["preferred_models"] = [model_id] if model_id else []
        data["excluded_models"] = [m for m in data["excluded_models"] if m != model_id]
    elif key in ("ttft_ms", "tpot_ms", "e2e_ms"):
        data["slo"][key] = _number(key, value)
    elif key == "percentile":
        if value.lower() not in {p.value for p in Percentile}:
            raise InvalidInputError(f"percentile={value!r}: {KEYS[key]}")
        data["slo"]["percentile"] = value.lower()
    elif key in ("users", "qps", "mean_qps"):
        users = int(_number(key, value, integer=True)) if key == "users" else data["user_count"]
        if users > MAX_USERS:
            raise InvalidInputError(f"users={users:,} is out of range; give 1 to {MAX_USERS:,} users")
        qps = _number(key, value) if key == "qps" else None
        mean = _number(key, value) if key == "mean_qps" else None
        if key == "users" and factor is not None and spec.traffic.qps_given:  # a stated rate follows
            qps = spec.traffic.peak_qps * factor
        data["user_count"] = users
        data["traffic"] = _retraffic(spec, users=users, qps=qps, mean_qps=mean)
        data["notes"] = without_rate_notes(list(data.get("notes", [])))  # they explained the old rate
    elif key == "precision":
        try:
            data["precision"] = None if anything else Precision(value.lower())
        except ValueError:
            raise InvalidInputError(f"precision={value!r}: {KEYS[key]}") from None
    elif key in ("budget_usd_month", "max_gpus"):
        data[key] = int(_number(key, value, integer=True)) if key == "max_gpus" else _number(key, value)
    elif key == "provider":
        data["provider"] = None if anything else value.lower()
    else:
        data["priorities"] = _priorities(value)


def apply_changes(
    spec: DeploymentSpec, changes: Sequence[tuple[str, str]], catalog: Catalog
) -> DeploymentSpec:
    """The spec with the changes made, validated.

    Raises:
        InvalidInputError, UnknownNameError: a bad value or an unknown GPU/model name.
    """
    data = spec.model_dump()
    for key, value in changes:
        _apply_one(data, spec, key, value, catalog)
    return check_spec(data)


class Scenario(BaseModel):
    """One column of a comparison: what changed, the best option and how it differs from the base."""

    label: str
    changes: dict[str, str] = Field(default_factory=dict)
    best: Option | None
    options: list[Option]
    relax: str | None = None
    diff: dict[str, Any] = Field(default_factory=dict)


class Comparison(BaseModel):
    """What `predeploy compare --json` prints."""

    base: Scenario
    scenarios: list[Scenario]
    notes: list[str] = Field(default_factory=list, description="how far off the predictions may be")


def _diff(base: Option | None, other: Option | None) -> dict[str, Any]:
    if base is None or other is None:
        return {"best": "none meets the SLO" if other is None else "the base has none"}
    out: dict[str, Any] = {}
    for key in ("model_id", "gpu_type", "gpu_count", "tensor_parallel", "replicas", "precision"):
        a, b = getattr(base, key), getattr(other, key)
        if a != b:
            out[key] = f"{a} → {b}"
    out["cost_per_month_usd"] = round(other.cost_per_month_usd - base.cost_per_month_usd, 2)
    for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
        a, b = getattr(base.predicted, key), getattr(other.predicted, key)
        if a is not None and b is not None:
            out[key] = round(b - a, 2)
    return out


def _scenario(label: str, changes: Sequence[tuple[str, str]], result: PlanResult) -> Scenario:
    best = result.options[0] if result.options else None
    return Scenario(label=label, changes=dict(changes), best=best, options=result.options, relax=result.relax)


def compare(
    spec: DeploymentSpec,
    scenarios: Sequence[str],
    catalog: Catalog,
    *,
    params: PerfParams | None = None,
    top_k: int = 3,
    cache: RateCache | None = None,
    outcomes: Sequence[DeploymentOutcome] = (),
) -> Comparison:
    """Plan the base spec and each scenario ('gpu=A100-80GB,ttft_ms=200'), and diff each best option
    against the base's.

    Raises:
        InvalidInputError, UnknownNameError: a scenario that does not parse or names an unknown GPU/model.
    """
    cache = {} if cache is None else cache
    parsed = [(text, parse_changes(text)) for text in scenarios]
    variants = [(text, changes, apply_changes(spec, changes, catalog)) for text, changes in parsed]
    base = _scenario(
        "base", [], plan(spec, catalog, params=params, top_k=top_k, cache=cache, outcomes=outcomes)
    )
    out = []
    for text, changes, variant in variants:
        result = plan(variant, catalog, params=params, top_k=top_k, cache=cache, outcomes=outcomes)
        s = _scenario(text, changes, result)
        s.diff = _diff(base.best, s.best)
        out.append(s)
    accuracy = accuracy_note(params or default_params())
    notes = (
        [f"{accuracy}; latency differences smaller than that are within the model's error"]
        if accuracy
        else []
    )
    return Comparison(base=base, scenarios=out, notes=notes)
