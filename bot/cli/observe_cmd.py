"""`predeploy observe` (a served model's vLLM metrics from Prometheus, optionally against a plan) and
`predeploy outcomes` (stored deployment outcomes and the corrections they imply)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import EXIT_ENVIRONMENT, fail, print_json

if TYPE_CHECKING:
    from planner.outcomes import LatencyStats, ObservedMetrics
    from planner.plan import PlanResult
    from planner.types import DeploymentOutcome

PROMETHEUS_OPT = typer.Option(
    None, "--prometheus", envvar="PROMETHEUS_URL", help="Prometheus base URL (default: $PROMETHEUS_URL)."
)
MODEL_NAME_OPT = typer.Option(
    ..., "--model-name", help="vLLM served model name (on KServe: the InferenceService name)."
)
NAMESPACE_OPT = typer.Option(None, "--namespace", "-n", help="Only pods in this Kubernetes namespace.")
WINDOW_OPT = typer.Option("1h", "--window", help="Prometheus duration to average over: 5m, 1h, 1d…")
PLAN_OPT = typer.Option(None, "--plan", help="PLAN.json from `predeploy plan --json`, to compare with.")
OPTION_OPT = typer.Option(1, "--option", min=1, help="Rank of the option in the plan.")
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


def register(app: typer.Typer) -> None:
    app.command("observe")(observe_command)
    app.command("outcomes")(outcomes_command)


def observe_command(
    model_name: str = MODEL_NAME_OPT,
    prometheus: str | None = PROMETHEUS_OPT,
    namespace: str | None = NAMESPACE_OPT,
    window: str = WINDOW_OPT,
    plan_path: Path | None = PLAN_OPT,
    option: int = OPTION_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Observed TTFT/ITL/TPOT/E2E percentiles, rates and peaks of one served model; with --plan, the
    comparison with an option's prediction and SLO."""
    from bot import digest_blocks
    from planner.errors import PlannerError
    from planner.outcomes import compare, parse_window_s, targets_from_spec
    from workers.prometheus import MetricsUnavailableError, PrometheusSource

    if not prometheus:
        fail("no metrics source configured: give --prometheus URL or set PROMETHEUS_URL")
    try:
        parse_window_s(window)
    except PlannerError as exc:
        fail(str(exc))
    plan = _read_plan(plan_path) if plan_path is not None else None
    chosen = _option(plan, option, plan_path) if plan is not None else None
    source = PrometheusSource(prometheus)
    try:
        observed = source.observe(model_name, namespace=namespace, window=window)
    except MetricsUnavailableError as exc:
        fail(str(exc), EXIT_ENVIRONMENT)
    finally:
        source.close()
    comparison = None
    if plan is not None and chosen is not None:
        comparison = compare(observed, predicted=chosen.predicted, targets=targets_from_spec(plan.spec))
    if as_json:
        out: dict[str, Any] = {"observed": observed.to_dict()}
        if comparison is not None:
            out["comparison"] = comparison.compliance() | {"notes": list(comparison.notes())}
        print_json(out)
        return
    typer.echo(_observed_text(observed))
    if comparison is not None and observed.has_traffic:
        typer.echo(f"\nAgainst option {option} of {plan_path}:")
        typer.echo(digest_blocks.table_text(comparison))
        for note in comparison.notes():
            typer.echo(f"note: {note}")


def _read_plan(path: Path) -> PlanResult:
    from pydantic import ValidationError

    from planner.plan import PlanResult

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read the plan {str(path)!r}: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        fail(f"{path} is not JSON (line {exc.lineno}: {exc.msg}); write it with `predeploy plan --json`")
    try:
        return PlanResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        fail(f"{path} is not a plan as printed by `predeploy plan --json`: {where}: {first['msg']}")


def _option(plan: PlanResult, rank: int, path: Path | None) -> Any:
    found = next((o for o in plan.options if o.rank == rank), None)
    if found is None:
        ranks = ", ".join(str(o.rank) for o in plan.options) or "none"
        fail(f"{path} has no option {rank} (options: {ranks})")
    return found


def _fmt(value: float | None, unit: str = "ms") -> str:
    return "—" if value is None else f"{value:,.1f} {unit}"


def _stats_line(name: str, stats: LatencyStats) -> str:
    cells = [f"{p}={_fmt(stats.at(p))}" for p in ("p50", "p90", "p95", "p99", "mean")]
    return f"  {name:<5} " + "  ".join(cells)


def _observed_text(o: ObservedMetrics) -> str:
    where = f"{o.model_name}" + (f" in {o.namespace}" if o.namespace else "")
    if not o.series_found:
        return (
            f"Prometheus has no vLLM series for {where}: check the served model name (--model-name) and "
            "that Prometheus scrapes the vLLM pods."
        )
    if not o.has_traffic:
        return f"{where}: no traffic in the last {o.window} (the latency percentiles are empty)."
    lines = [f"{where}, last {o.window}:"]
    lines += [
        _stats_line(n, s) for n, s in (("TTFT", o.ttft), ("ITL", o.itl), ("TPOT", o.tpot), ("E2E", o.e2e))
    ]
    kv = None if o.kv_cache_usage is None else o.kv_cache_usage * 100
    lines.append(
        f"  load  {_fmt(o.requests_per_s, 'req/s')}  {_fmt(o.output_tokens_per_s, 'output tok/s')}  "
        f"KV cache peak {_fmt(kv, '%')}  queue peak {_fmt(o.queue_waiting, 'requests')}"
    )
    return "\n".join(lines)


def outcomes_command(as_json: bool = JSON_OPT) -> None:
    """Stored deployment outcomes, and the corrections they imply for each model and GPU."""
    from bot.cli.common import open_session
    from kb.repository import list_outcomes
    from planner.outcomes import corrections_for

    with open_session() as session:
        stored = list_outcomes(session=session)
    pairs = sorted({(o.model_id, o.gpu_type) for o in stored})
    corrections = {pair: corrections_for(stored, model_id=pair[0], gpu_id=pair[1]) for pair in pairs}
    if as_json:
        rows = [_outcome_json(o) for o in stored]
        implied = [
            {"model_id": m, "gpu_type": g, **_corrections_json(c)} for (m, g), c in corrections.items()
        ]
        print_json({"outcomes": rows, "corrections": implied})
        return
    if not stored:
        typer.echo("No deployment outcomes stored yet; they are recorded by the outcome digests.")
        return
    typer.echo(
        f"{'deployment':<22}{'model':<36}{'GPU':<11}{'TTFT p90':>10}{'TPOT p90':>10}{'windows':>9}  SLO"
    )
    for o in stored:
        met = o.slo_compliance.get("met")
        verdict = "met" if met is True else "missed" if met is False else "—"
        typer.echo(
            f"{o.deployment_id:<22}{o.model_id[-35:]:<36}{o.gpu_type:<11}{_fmt(o.ttft_p90_ms):>10}"
            f"{_fmt(o.tpot_p90_ms):>10}{_windows(o):>9}  {verdict}"
        )
    typer.echo("\nCorrections for future plans:")
    for (model, gpu), c in corrections.items():
        typer.echo(f"  {model} on {gpu}: {c.note or 'none (predictions matched, or too little evidence)'}")


def _windows(o: DeploymentOutcome) -> int:
    log = o.traffic_observed.get("observations")
    return len(log) if isinstance(log, list) else 0


def _outcome_json(o: DeploymentOutcome) -> dict[str, Any]:
    return {
        "deployment_id": o.deployment_id,
        "model_id": o.model_id,
        "gpu_type": o.gpu_type,
        "gpu_count": o.gpu_count,
        "deployed_at": o.deployed_at.isoformat(),
        "ttft_p90_ms": o.ttft_p90_ms,
        "tpot_p90_ms": o.tpot_p90_ms,
        "e2e_latency_p95_ms": o.e2e_latency_p95_ms,
        "throughput_avg_rps": o.throughput_avg_rps,
        "windows": _windows(o),
        "slo_compliance": o.slo_compliance,
        "predicted": o.predicted,
    }


def _corrections_json(c: Any) -> dict[str, Any]:
    return {
        "ttft": c.ttft,
        "itl": c.itl,
        "e2e": c.e2e,
        "throughput": round(c.throughput, 4),
        "confidence": c.confidence,
        "outcomes": c.outcomes,
        "scope": c.scope,
        "note": c.note,
    }
