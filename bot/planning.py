"""The bot's calls into the planning pipeline: plan a spec with progress, and compare a what-if.

What-if changes are the keys the modal and the sentence parser produce: gpu, model, user_count,
qps, ttft_ms, tpot_ms, e2e_ms, budget_usd_month, precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from planner.catalog import Catalog
from planner.errors import InvalidInputError
from planner.plan import Option, PlanResult
from planner.spec import DeploymentSpec
from planner.types import DeploymentOutcome

Progress = Callable[[int, int, str], None]
Rows = tuple[tuple[str, tuple[str, ...]], ...]


def run_pipeline(
    spec: DeploymentSpec,
    catalog: Catalog,
    *,
    params: Any,
    outcomes: Sequence[DeploymentOutcome] = (),
    progress: Progress | None = None,
) -> PlanResult:
    """Plan a spec; `progress(done, total, what)` hears about each model as it is sized, with `what`
    like "models: Llama-3.1-8B-Instruct on H100-SXM" (callers throttle their own updates)."""
    from planner.pipeline import plan

    def per_model(done: int, total: int, label: str) -> None:
        if progress is not None:
            progress(done, total, f"models: {label}")

    return plan(spec, catalog, params=params, outcomes=outcomes, progress=per_model)


WHATIF_KEYS = {"user_count": "users"}  # the conversation's change names → planner.whatif's


def apply_changes(spec: DeploymentSpec, changes: dict[str, Any], catalog: Catalog) -> DeploymentSpec:
    """The spec with what-if changes applied (planner.whatif: traffic re-derived, names resolved).

    Raises:
        PlannerError: an unknown GPU or model (with suggestions), or a value out of range.
    """
    from planner.whatif import apply_changes as apply

    pairs = [(WHATIF_KEYS.get(key, key), str(value)) for key, value in changes.items()]
    return apply(spec, pairs, catalog)


def _cells(option: Option | None) -> tuple[str, ...]:
    if option is None:
        return ("none meets the SLO", "", "", "", "", "", "")
    p = option.predicted
    return (
        option.model_id,
        f"{option.gpu_count}x {option.gpu_type}",
        f"TP{option.tensor_parallel} x {option.replicas}",
        "n/a" if p.ttft_ms is None else f"{p.ttft_ms:,.0f} ms",
        "n/a" if p.tpot_ms is None else f"{p.tpot_ms:,.1f} ms",
        f"${option.cost_per_month_usd:,.0f}",
        "yes" if option.meets_slo else "no",
    )


def _labels(pct: str) -> tuple[str, ...]:
    """Row labels of a comparison, matching `_cells`."""
    return ("Model", "GPUs", "Layout", f"TTFT {pct}", f"TPOT {pct}", "Cost/month", "Meets SLO")


def compare_pair(base: PlanResult, first: int, second: int) -> tuple[str, Rows]:
    """Two options of one plan side by side (no re-planning).

    Raises:
        InvalidInputError: the plan has no option with one of the ranks, or they are the same.
    """
    by_rank = {o.rank: o for o in base.options}
    if len(by_rank) < 2:
        has = "no option meets the SLO" if not by_rank else "it has only option 1"
        raise InvalidInputError(
            f"there is nothing to compare: {has}; ask a what-if instead, "
            "e.g. 'what if the budget is $10,000?'"
        )
    missing = [r for r in (first, second) if r not in by_rank]
    if missing or first == second:
        problem = f"there is no option {missing[0]}" if missing else "that is the same option twice"
        raise InvalidInputError(
            f"{problem}; the plan has options 1 to {len(base.options)}: say e.g. 'compare 1 and 2'"
        )
    a, b = by_rank[first], by_rank[second]
    labels = _labels(DeploymentSpec.model_validate(base.spec).slo.percentile.value)
    rows: list[tuple[str, tuple[str, ...]]] = [("", (f"Option {first}", f"Option {second}"))]
    rows += [(label, (x, y)) for label, x, y in zip(labels, _cells(a), _cells(b), strict=True)]
    rows.append(("Holds", (f"{a.predicted.max_qps:,.1f} req/s", f"{b.predicted.max_qps:,.1f} req/s")))
    delta = b.cost_per_month_usd - a.cost_per_month_usd
    rows.append(("Difference", ("", f"{'+' if delta >= 0 else '-'}${abs(delta):,.0f}/month")))
    return f"Option {first} vs option {second}", tuple(rows)


def compare_option(
    base: PlanResult,
    rank: int,
    changes: dict[str, Any],
    catalog: Catalog,
    *,
    params: Any,
    outcomes: Sequence[DeploymentOutcome] = (),
) -> tuple[str, Rows]:
    """Re-plan with the changes and put option `rank` of the base next to the best new option."""
    from planner.whatif import describe_change

    spec = DeploymentSpec.model_validate(base.spec)
    chosen = next((o for o in base.options if o.rank == rank), base.options[0] if base.options else None)
    scenario = run_pipeline(apply_changes(spec, changes, catalog), catalog, params=params, outcomes=outcomes)
    best = scenario.options[0] if scenario.options else None
    labels = _labels(spec.slo.percentile.value)
    what = ", ".join(describe_change(k, v) for k, v in sorted(changes.items()))
    header = (f"Option {chosen.rank}" if chosen else "Now (no option)", f"What if {what}")
    rows = [("", header)]
    rows += [(label, (a, b)) for label, a, b in zip(labels, _cells(chosen), _cells(best), strict=True)]
    if best is None and scenario.infeasible:
        rows.append(("Why", ("", scenario.infeasible[0].reason[:80])))
    if chosen is not None and best is not None:
        delta = best.cost_per_month_usd - chosen.cost_per_month_usd
        rows.append(("Difference", ("", f"{'+' if delta >= 0 else '-'}${abs(delta):,.0f}/month")))
    return f"What if {what}?", tuple(rows)
