"""`predeploy extract | plan | compare`: from a sentence to a spec, ranked options and what-ifs.

The LLM (Ollama) extracts the intent when OLLAMA_HOST is set and --no-llm is not given; otherwise
the rule-based extractor does, and the output says which (on stderr with --json).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import fail, print_json, user_errors

if TYPE_CHECKING:
    from planner.catalog import Catalog
    from planner.llm_intent import Extraction
    from planner.perf_params import PerfParams
    from planner.spec import DeploymentSpec
    from planner.types import DeploymentOutcome

NO_LLM = typer.Option(False, "--no-llm", help="use the rule-based extractor even when OLLAMA_HOST is set")
AS_JSON = typer.Option(False, "--json", help="print JSON")


def load_inputs() -> tuple[Catalog, PerfParams]:
    """The knowledge base's catalog and the calibrated performance parameters."""
    from bot.cli.common import load_catalog_cached

    return load_catalog_cached(), load_perf_params()


def load_outcomes() -> list[DeploymentOutcome]:
    """Observed deployments stored by `predeploy observe` and the digest jobs (they correct predictions)."""
    from bot.cli.common import open_session
    from kb.repository import list_outcomes

    with open_session() as session:
        return list_outcomes(session=session)


def load_perf_params() -> PerfParams:
    """The fitted parameters (kb/data/calibration.json); the priors, with a warning, when unreadable."""
    from planner.perf_params import default_params

    try:
        from kb.calibration import load_params

        return load_params()
    except (OSError, ValueError, TypeError, KeyError) as exc:  # a missing, broken or older file
        typer.echo(
            f"warning: calibration unreadable ({type(exc).__name__}: {exc}); using the priors", err=True
        )
        return default_params()


def _extract(text: str, history: list[str], catalog: Catalog, *, no_llm: bool) -> Extraction:
    from planner.llm_intent import extract_with_llm, extract_with_rules

    backend = None
    if not no_llm and os.environ.get("OLLAMA_HOST", "").strip():
        from workers.llm import backend_from_env  # ollama and httpx load only when they are used

        backend = backend_from_env(os.environ)
    if backend is None:
        reason = "--no-llm" if no_llm else "OLLAMA_HOST is not set"
        return extract_with_rules(text, history=history, catalog=catalog, reason=reason)
    return extract_with_llm(text, history=history, catalog=catalog, backend=backend)


def _say_extractor(ex: Extraction, *, to_stderr: bool) -> None:
    if ex.source == "llm":
        line = "intent: extracted by the LLM (Ollama)"
    else:
        line = (
            f"intent: rule-based extractor ({ex.fallback_reason})"
            if ex.fallback_reason
            else "intent: rule-based"
        )
    typer.echo(line, err=to_stderr)


def _spec_json(ex: Extraction) -> dict[str, Any]:
    doc = ex.spec.model_dump(mode="json")
    doc["extractor"] = {
        "source": ex.source,
        "fallback_reason": ex.fallback_reason or None,
        "notes": list(ex.notes),
    }
    return doc


def _batch(path: Path, catalog: Catalog, *, no_llm: bool) -> None:
    from planner.errors import PlannerError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}; give a JSONL file of {{'id', 'message', 'history'}} lines")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("message"), str):
                raise ValueError("expected an object with a 'message' string")
        except ValueError as exc:
            sys.stdout.write(json.dumps({"id": None, "line": n, "error": f"line {n}: {exc}"}) + "\n")
            continue
        try:
            ex = _extract(row["message"], [str(h) for h in row.get("history") or []], catalog, no_llm=no_llm)
            out = {"id": row.get("id"), **_spec_json(ex)}
        except PlannerError as exc:
            out = {"id": row.get("id"), "error": str(exc)}
        sys.stdout.write(json.dumps(out) + "\n")


def extract_command(
    text: str = typer.Argument("", help="what the deployment is for, in your words"),
    no_llm: bool = NO_LLM,
    as_json: bool = AS_JSON,
    batch: Path | None = typer.Option(None, "--batch", help="JSONL file: {id, message, history} per line"),
) -> None:
    """Turn a request into a deployment spec (use case, users, traffic, SLOs, priorities, constraints)."""
    with user_errors():
        from bot.cli.common import load_catalog_cached

        catalog = load_catalog_cached()
        if batch is not None:
            _batch(batch, catalog, no_llm=no_llm)
            return
        ex = _extract(text, [], catalog, no_llm=no_llm)
        _say_extractor(ex, to_stderr=as_json)
        if as_json:
            print_json(_spec_json(ex))
        else:
            from bot.cli.plan_view import spec_lines

            typer.echo("\n".join(spec_lines(ex.spec)))


def _overrides(spec: DeploymentSpec, catalog: Catalog, flags: dict[str, Any]) -> DeploymentSpec:
    from planner.spec import check_spec
    from planner.whatif import apply_changes

    changes = [(k, str(v)) for k, v in flags.items() if v is not None and k not in ("gpu", "model")]
    spec = apply_changes(spec, changes, catalog) if changes else spec
    if flags.get("gpu") or flags.get("model"):
        data = spec.model_dump()
        if flags.get("gpu"):
            data["preferred_gpu_types"] = list(dict.fromkeys(catalog.gpu(g).id for g in flags["gpu"]))
            data["excluded_gpu_types"] = [
                g for g in data["excluded_gpu_types"] if g not in data["preferred_gpu_types"]
            ]
        if flags.get("model"):
            data["preferred_models"] = list(dict.fromkeys(catalog.model(m).id for m in flags["model"]))
            data["excluded_models"] = [
                m for m in data["excluded_models"] if m not in data["preferred_models"]
            ]
        spec = check_spec(data)
    return spec


def plan_command(
    text: str = typer.Argument(..., help="what the deployment is for, in your words"),
    no_llm: bool = NO_LLM,
    as_json: bool = AS_JSON,
    plot: Path | None = typer.Option(None, "--plot", help="write a cost vs latency chart (PNG) here"),
    users: int | None = typer.Option(None, "--users", help="number of users (overrides the text)"),
    qps: float | None = typer.Option(None, "--qps", help="peak requests per second (overrides users)"),
    gpu: list[str] = typer.Option([], "--gpu", help="only this GPU type (repeatable)"),
    model: list[str] = typer.Option([], "--model", help="only this model (repeatable)"),
    ttft_ms: float | None = typer.Option(None, "--ttft-ms", help="time-to-first-token target, ms"),
    tpot_ms: float | None = typer.Option(None, "--tpot-ms", help="time-per-output-token target, ms"),
    e2e_ms: float | None = typer.Option(None, "--e2e-ms", help="end-to-end target, ms"),
    percentile: str | None = typer.Option(None, "--percentile", help="p50 | p90 | p95 | p99"),
    priority: str | None = typer.Option(None, "--priority", help="latency | cost | accuracy | balanced"),
    budget_usd_month: float | None = typer.Option(None, "--budget-usd-month", help="monthly budget, USD"),
    max_gpus: int | None = typer.Option(None, "--max-gpus", help="most GPUs in total"),
    top: int = typer.Option(5, "--top", min=1, max=50, help="how many options to show"),
    precise: bool = typer.Option(
        False,
        "--precise",
        help="percentiles from the discrete-event simulation (slower) instead of closed form",
    ),
) -> None:
    """Rank model × GPU × TP × replica options that meet the SLO, with predicted latency and cost."""
    from planner.pipeline import plan

    with user_errors():
        catalog, params = load_inputs()
        ex = _extract(text, [], catalog, no_llm=no_llm)
        flags = {
            "users": users,
            "qps": qps,
            "gpu": gpu,
            "model": model,
            "ttft_ms": ttft_ms,
            "tpot_ms": tpot_ms,
            "e2e_ms": e2e_ms,
            "percentile": percentile,
            "priority": priority,
            "budget_usd_month": budget_usd_month,
            "max_gpus": max_gpus,
        }
        spec = _overrides(ex.spec, catalog, flags)
        result = plan(
            spec, catalog, params=params, top_k=max(top, 10), precise=precise, outcomes=load_outcomes()
        )
        _say_extractor(ex, to_stderr=as_json)
        if plot is not None:
            _write_chart(result, plot, to_stderr=as_json)
        shown = result.model_copy(update={"options": result.options[:top]})
        if as_json:
            print_json(shown.model_dump(mode="json"))
        else:
            from bot.cli.plan_view import plan_lines

            typer.echo("\n".join(plan_lines(shown)))


def _write_chart(result: Any, path: Path, *, to_stderr: bool) -> None:
    from bot.chart import render_plan_chart

    try:
        path.write_bytes(render_plan_chart(result))
    except OSError as exc:
        fail(f"cannot write the chart to {path}: {exc.strerror}; give a writable --plot path")
    typer.echo(f"chart: {path}", err=to_stderr)


def compare_command(
    text: str = typer.Argument(..., help="what the deployment is for, in your words"),
    vs: list[str] = typer.Option(
        ..., "--vs", help="a scenario: KEY=VALUE[,KEY=VALUE] (gpu, model, ttft_ms, ...)"
    ),
    no_llm: bool = NO_LLM,
    as_json: bool = AS_JSON,
    top: int = typer.Option(3, "--top", min=1, max=20, help="options per scenario"),
) -> None:
    """Plan the request and each what-if scenario, side by side with the differences from the base."""
    from planner.whatif import compare

    with user_errors():
        catalog, params = load_inputs()
        ex = _extract(text, [], catalog, no_llm=no_llm)
        comparison = compare(ex.spec, vs, catalog, params=params, top_k=top, outcomes=load_outcomes())
        _say_extractor(ex, to_stderr=as_json)
        if as_json:
            print_json(comparison.model_dump(mode="json"))
        else:
            from bot.cli.plan_view import compare_lines

            typer.echo("\n".join(compare_lines(comparison)))


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_command)
    app.command("plan")(plan_command)
    app.command("compare")(compare_command)
