"""`predeploy kb init | list | show`: create, load and read the knowledge base."""

from __future__ import annotations

import dataclasses
import math
from enum import StrEnum
from typing import Any

import typer

from bot.cli.common import fail, list_hint, load_catalog_cached, open_session, print_json, user_errors
from planner.errors import PlannerError


class ListKind(StrEnum):
    MODELS = "models"
    GPUS = "gpus"
    USECASES = "usecases"
    COSTS = "costs"
    BENCHMARKS = "benchmarks"


class ShowKind(StrEnum):
    MODEL = "model"
    GPU = "gpu"


def _jsonable(value: Any) -> Any:
    """Plain JSON values: dataclasses as dicts, and an infinite request rate as the string 'inf'."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else str(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def init(
    json_out: bool = typer.Option(False, "--json", help="Print what was done as JSON."),
) -> None:
    """Create or upgrade the schema and load the seed data (running it twice changes nothing)."""
    from bot.cli.common import database_url, forget_engines
    from kb.repository import seed_info
    from kb.schema import current_revision, head_revision, upgrade
    from kb.seed import load_seed
    from kb.session import make_engine, redact_url

    url = database_url()
    with user_errors():
        engine = make_engine(url)
        try:
            before = current_revision(engine)
            upgrade(engine)
            loaded = load_seed(engine)
            with open_session() as session:
                info = seed_info(session=session)
        finally:
            engine.dispose()
    forget_engines()
    result = {
        "database": redact_url(url),
        "schema": {"before": before, "after": head_revision()},
        "seed_loaded": loaded is not None,
        "counts": info.get("counts", {}),
        "versions": info.get("versions", {}),
    }
    if json_out:
        print_json(result)
        return
    migrated = "created" if before is None else ("upgraded" if before != head_revision() else "up to date")
    counts = ", ".join(f"{v} {k}" for k, v in result["counts"].items())
    seed = "loaded" if loaded is not None else "unchanged"
    typer.echo(f"knowledge base {result['database']}: schema {migrated}; seed {seed} ({counts})")


def _rows(
    kind: ListKind,
    *,
    source_set: str | None,
    limit: int | None,
    model_id: str | None = None,
    gpu_id: str | None = None,
) -> list[dict[str, Any]]:
    from kb import repository as repo

    with open_session() as session:
        if kind is ListKind.MODELS:
            return [_jsonable(m) for m in repo.list_models(session=session)]
        if kind is ListKind.GPUS:
            return [_jsonable(g) for g in repo.list_gpus(session=session)]
        if kind is ListKind.USECASES:
            return [{"id": t.use_case, **_jsonable(t)} for t in repo.list_templates(session=session)]
        if kind is ListKind.COSTS:
            return [
                {
                    "id": f"{p.gpu_id}/{p.provider}/{p.instance_type}/{p.region}",
                    **_jsonable(p),
                    "monthly_usd_per_gpu": round(p.monthly_usd_per_gpu, 2),
                }
                for p in repo.list_prices(session=session)
            ]
        rows = repo.list_benchmarks(
            session=session, source_set=source_set, limit=limit, model_id=model_id, gpu_id=gpu_id
        )
        return [_jsonable(b) for b in rows]


_TABLE_COLUMNS: dict[ListKind, tuple[str, ...]] = {
    ListKind.MODELS: ("id", "params_total_b", "params_active_b", "max_context_tokens", "license"),
    ListKind.GPUS: ("id", "memory_gib", "memory_bandwidth_gb_s", "bf16_tflops", "fp8_tflops", "node_label"),
    ListKind.USECASES: (
        "id",
        "experience_class",
        "slo.ttft_ms",
        "slo.itl_ms",
        "slo.e2e_ms",
        "slo.percentile",
    ),
    ListKind.COSTS: ("gpu_id", "provider", "instance_type", "hourly_usd_per_gpu", "region", "effective_date"),
    ListKind.BENCHMARKS: (
        "id",
        "scenario",
        "model_id",
        "gpu_id",
        "tensor_parallel",
        "input_tokens",
        "output_tokens",
        "concurrency",
        "ttft_ms_mean",
        "tpot_ms_mean",
        "output_tokens_per_s",
    ),  # fmt: skip
}


def _cell(row: dict[str, Any], path: str) -> str:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.5g}"
    return str(value)


def print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """A plain, aligned text table (column headers are the JSON field names)."""
    cells = [[_cell(r, c) for c in columns] for r in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def list_(
    kind: ListKind = typer.Argument(..., help="What to list."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON array of objects, each with an id."),
    source_set: str | None = typer.Option(
        None, help="benchmarks only: serving_benchmarks or aiconfigurator_measured."
    ),
    limit: int | None = typer.Option(None, min=1, help="benchmarks only: at most this many rows."),
    model: str | None = typer.Option(None, help="benchmarks only: this model (id, name or alias)."),
    gpu: str | None = typer.Option(None, help="benchmarks only: this GPU type (id, name or alias)."),
) -> None:
    """List models, GPUs, use cases, costs or benchmarks."""
    if kind is not ListKind.BENCHMARKS and (source_set or limit or model or gpu):
        fail("--source-set, --limit, --model and --gpu apply to `kb list benchmarks` only")
    valid_sets = ("serving_benchmarks", "aiconfigurator_measured")
    if source_set is not None and source_set not in valid_sets:
        fail(f"unknown source set {source_set!r}; use one of {', '.join(valid_sets)}")
    catalog = load_catalog_cached() if model or gpu else None
    try:
        model_id = catalog.model(model).id if catalog and model else None
        gpu_id = catalog.gpu(gpu).id if catalog and gpu else None
    except PlannerError as exc:
        fail(str(exc))
    rows = _rows(kind, source_set=source_set, limit=limit, model_id=model_id, gpu_id=gpu_id)
    if json_out:
        print_json(rows)
    else:
        print_table(rows, _TABLE_COLUMNS[kind])


def show(
    kind: ShowKind = typer.Argument(..., help="model or gpu."),
    name: str = typer.Argument(..., help="An id, name or alias, e.g. 'H100' or 'llama-3.1-8b-instruct'."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show one model or GPU, resolving aliases (unknown names exit 2 with close matches)."""
    from bot.cli.common import load_catalog_cached
    from kb import repository as repo
    from planner.errors import UnknownNameError

    catalog = load_catalog_cached()
    try:
        found: Any = catalog.model(name) if kind is ShowKind.MODEL else catalog.gpu(name)
    except UnknownNameError as exc:
        fail(f"{exc}{list_hint(exc)}")
    item: dict[str, Any] = _jsonable(found)
    if kind is ShowKind.MODEL:
        with open_session() as session:
            item["benchmark_rows"] = len(repo.list_benchmarks(session=session, model_id=item["id"]))
    else:
        item["prices"] = [_jsonable(p) for p in catalog.prices_for(item["id"])]
    if json_out:
        print_json(item)
        return
    width = max(len(k) for k in item)
    for key, value in item.items():
        typer.echo(f"{key.ljust(width)}  {value}")


def register(app: typer.Typer) -> None:
    kb_app = typer.Typer(
        help="The knowledge base: models, GPUs, prices, SLO templates and benchmarks.",
        no_args_is_help=True,
    )
    kb_app.command("init")(init)
    kb_app.command("list")(list_)
    kb_app.command("show")(show)
    app.add_typer(kb_app, name="kb")
