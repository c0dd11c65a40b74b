"""`predeploy predict | validate | calibrate`: the performance model from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import fail, print_json, user_errors

QUERY_KEYS = {
    "id",
    "model",
    "gpu",
    "gpus",
    "tp",
    "precision",
    "engine",
    "input_tokens",
    "output_tokens",
    "input_tokens_std",
    "output_tokens_std",
    "prefix_tokens",
    "arrival",
    "concurrency",
    "rate",
    "max_throughput",
}


def _int(q: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = q.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return int(value)


def _float(q: dict[str, Any], key: str) -> float:
    value = q.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return float(value)


def _choice(kind: Any, key: str, value: Any) -> Any:
    """The member of enum `kind` named `value` (any case), or an error listing the members."""
    from planner.errors import InvalidInputError

    try:
        return kind(str(value).lower())
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise InvalidInputError(f"unknown {key} {value!r}; use one of {names}") from None


def answer(q: dict[str, Any], catalog: Any, params: Any) -> dict[str, Any]:
    """Predict one query (flag names as keys); raises PlannerError or ValueError on bad input."""
    from planner.capacity_inputs import deployment_problem
    from planner.errors import InvalidInputError
    from planner.perf import Arrival, Workload, predict, smallest_fitting_tp
    from planner.types import ArrivalKind, Engine, Precision

    unknown = set(q) - QUERY_KEYS
    if unknown:
        raise InvalidInputError(f"unknown keys {sorted(unknown)}; use {sorted(QUERY_KEYS)}")
    model, gpu = catalog.model(str(q.get("model", ""))), catalog.gpu(str(q.get("gpu", "")))
    precision = _choice(Precision, "precision", q.get("precision") or "bf16")
    engine = _choice(Engine, "engine", q.get("engine") or "vllm")
    # 0 is a value given (and refused below as not positive), not a missing one: `0 in (None, False)`
    modes = [
        k for k in ("concurrency", "rate", "max_throughput") if q.get(k) is not None and q.get(k) is not False
    ]
    if len(modes) != 1:
        raise InvalidInputError("give exactly one of concurrency, rate or max_throughput")
    workload = Workload(
        input_tokens=_int(q, "input_tokens") or 0,
        output_tokens=_int(q, "output_tokens") or 0,
        input_tokens_std=_int(q, "input_tokens_std", 0) or 0,
        output_tokens_std=_int(q, "output_tokens_std", 0) or 0,
        prefix_tokens=_int(q, "prefix_tokens", 0) or 0,
    )
    if modes[0] == "concurrency":
        arrival = Arrival(ArrivalKind.CLOSED_LOOP, concurrency=_int(q, "concurrency"))
    elif modes[0] == "rate":
        name = str(q.get("arrival") or "poisson").lower()
        if name not in (ArrivalKind.POISSON, ArrivalKind.CONSTANT):
            raise InvalidInputError(f"unknown arrival {q.get('arrival')!r}; use poisson or constant")
        kind = ArrivalKind(name)
        arrival = Arrival(kind, rate_rps=_float(q, "rate"))
    else:
        arrival = Arrival(ArrivalKind.MAX_THROUGHPUT)
    tp = _int(q, "tp")
    if tp is None:
        need = workload.input_tokens + workload.output_tokens
        tp = smallest_fitting_tp(
            model, gpu, precision=precision, max_model_len=need, params=params, engine=engine
        )
        tp = tp or max(gpu.max_tensor_parallel, 1)
    gpus = _int(q, "gpus", tp) or tp
    if tp < 1 or gpus < 1 or gpus % tp:
        raise InvalidInputError(f"gpus ({gpus}) must be a positive multiple of tp ({tp})")
    p = predict(
        model,
        gpu,
        tp=tp,
        replicas=gpus // tp,
        precision=precision,
        engine=engine,
        workload=workload,
        arrival=arrival,
        params=params,
        percentiles=True,
    )
    out = {"model": model.id, "gpu": gpu.id, **p.to_json()}
    problem = deployment_problem(model, gpu, precision) if engine is Engine.VLLM else None
    if problem:  # predicted all the same (the model's figures hold), but say why it is never planned
        out["notes"] = [*out["notes"], f"the planner does not offer this: {problem}"]
    return out


def _context() -> tuple[Any, Any]:
    from bot.cli.common import load_catalog_cached
    from kb.calibration import load_params

    return load_catalog_cached(), load_params()


def _run_batch(path: Path) -> None:
    from planner.errors import PlannerError

    catalog, params = _context()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        qid: Any = None
        try:
            q = json.loads(line)
            if not isinstance(q, dict):
                raise ValueError("a line must be a JSON object")
            qid = q.get("id")
            out = {"id": qid, **answer(q, catalog, params)}
        except json.JSONDecodeError as exc:
            out = {"id": None, "line": number, "error": f"line {number} is not JSON: {exc.msg}"}
        except (PlannerError, ValueError, KeyError, TypeError) as exc:
            out = {"id": qid, "line": number, "error": str(exc)}
        sys.stdout.write(json.dumps(out) + "\n")


def _human(r: dict[str, Any]) -> str:
    def fmt(s: dict[str, Any]) -> str:
        return " ".join(f"{k}={'-' if v is None else f'{v:.1f}'}" for k, v in s.items())

    lines = [
        f"{r['model']} on {r['gpus']}x {r['gpu']} (TP{r['tensor_parallel']} x {r['replicas']}, "
        f"{r['precision']}, {r['engine']}): fits={r['fits']} saturated={r['saturated']}",
        f"  TTFT ms  {fmt(r['ttft_ms'])}",
        f"  TPOT ms  {fmt(r['tpot_ms'])}",
        f"  ITL ms   {fmt(r['itl_ms'])}",
        f"  e2e ms   {fmt(r['e2e_ms'])}",
        f"  output {r['output_tokens_per_s'] or 0:.0f} tok/s, {r['requests_per_s'] or 0:.2f} req/s, "
        f"KV cache {r['kv_cache_tokens']} tokens",
    ]
    return "\n".join(lines + [f"  note: {n}" for n in r["notes"]])


def _line(s: dict[str, Any]) -> str:
    return f"rows={s['rows']:5d} median={s['median_pct']:5.1f}% p90={s['p90_pct']:5.1f}%"


def register(app: typer.Typer) -> None:
    """Add predict, validate and calibrate to the CLI."""

    @app.command()
    def predict(
        model: str = typer.Option(None, help="model id or alias"),
        gpu: str = typer.Option(None, help="GPU id or alias"),
        gpus: int = typer.Option(None, help="GPUs in total (default: --tp)"),
        tp: int = typer.Option(None, help="tensor parallel degree (default: smallest that fits)"),
        precision: str = typer.Option("bf16", help="bf16 | fp16 | fp8 | int8 | int4"),
        engine: str = typer.Option("vllm", help="vllm | tensorrt-llm | sglang | tgi"),
        input_tokens: int = typer.Option(None, help="mean prompt tokens"),
        output_tokens: int = typer.Option(None, help="mean output tokens"),
        prefix_tokens: int = typer.Option(0, help="prompt tokens shared by every request"),
        input_tokens_std: int = typer.Option(0, help="standard deviation of prompt tokens"),
        output_tokens_std: int = typer.Option(0, help="standard deviation of output tokens"),
        concurrency: int = typer.Option(None, help="closed loop with this many users"),
        rate: float = typer.Option(None, help="arrival rate, requests/s"),
        arrival: str = typer.Option("poisson", help="poisson | constant (with --rate)"),
        max_throughput: bool = typer.Option(False, "--max-throughput", help="as fast as the engine serves"),
        batch: Path = typer.Option(None, help="JSONL file: one query per line, flag names as keys"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """Predict latency percentiles, throughput and memory of one deployment under a load."""
        if batch is not None:
            _run_batch(batch)
            return
        q = {
            "model": model,
            "gpu": gpu,
            "gpus": gpus,
            "tp": tp,
            "precision": precision,
            "engine": engine,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "prefix_tokens": prefix_tokens,
            "input_tokens_std": input_tokens_std,
            "output_tokens_std": output_tokens_std,
            "concurrency": concurrency,
            "rate": rate,
            "arrival": arrival,
            "max_throughput": max_throughput,
        }
        for name in ("model", "gpu", "input_tokens", "output_tokens"):
            if q[name] is None:
                fail(f"--{name.replace('_', '-')} is required (or use --batch FILE)")
        with user_errors():
            catalog, params = _context()
            try:
                result = answer({k: v for k, v in q.items() if v is not None}, catalog, params)
            except ValueError as exc:
                fail(str(exc))
        print_json(result) if as_json else typer.echo(_human(result))

    @app.command()
    def validate(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """Held-out accuracy: leave-one-source-out and leave-one-GPU-out refits, plus KV-cache tokens."""
        report = _validation()
        if as_json:
            print_json(report)
            return
        for split in ("leave_one_source_out", "leave_one_gpu_out"):
            typer.echo(f"{split} ({report['rows']} rows)")
            by_source = report[split].get("by_source", {})
            groups = [("all rows", report[split])] + [(f"rows from {k}", v) for k, v in by_source.items()]
            for label, metrics in groups:
                typer.echo(f"  {label}")
                for metric, s in metrics.items():
                    if metric != "by_source":
                        typer.echo(f"    {metric:22s} {_line(s)}")
        rep = report.get("repeatability", {})
        if rep:
            typer.echo("repeats: rows measuring the same configuration differ from each other by")
            for metric, s in rep.items():
                spread = f"median={s['median_pct']:5.1f}% p90={s['p90_pct']:6.1f}%"
                typer.echo(f"    {metric:22s} pairs={s['pairs']:5d} {spread}")
        kv = report["kv_cache_tokens"]
        typer.echo(
            f"kv_cache_tokens vs vLLM H100 runs: rows={kv['rows']} median={kv.get('median_pct')}% "
            f"p90={kv.get('p90_pct')}%"
        )

    @app.command()
    def calibrate(
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
        skip_validation: bool = typer.Option(
            False,
            "--skip-validation",
            help="do not measure the held-out error (about a minute); predictions then cannot quote it",
        ),
    ) -> None:
        """Refit the model on the knowledge base and write kb/data/calibration.json, with the held-out
        error (the `validate` figures) that predictions and plans quote as their expected error."""
        from dataclasses import replace

        from kb.calibration import save_params
        from planner.calibration_report import calibrate as fit_all
        from planner.calibration_report import held_out_error, validate
        from planner.perf_params import default_params

        cases, _, _ = _cases()
        if not cases:
            fail("no comparable benchmark rows in the knowledge base; run `predeploy kb init`")
        params = fit_all(cases, default_params())
        if not skip_validation:
            held_out = held_out_error(validate(cases, default_params()))
            params = replace(params, fit_info={**params.fit_info, "held_out_error": held_out})
        path = save_params(params)
        info = {"path": str(path), **params.fit_info}
        if as_json:
            print_json(info)
            return
        typer.echo(f"wrote {path}")
        for label, key in (("in sample", "in_sample_error"), ("held out", "held_out_error")):
            for metric, s in info.get(key, {}).items():
                typer.echo(f"  {label:9s} {metric:22s} {_line(s)}")


def _cases() -> tuple[list[Any], list[Any], Any]:
    from bot.cli.common import load_catalog_cached, open_session
    from kb.repository import list_benchmarks, list_memory_measurements
    from planner.calibration_cases import Case, case_from_row, memory_case
    from planner.perf_params import as_benchmarked, default_params

    catalog, prior = load_catalog_cached(), default_params()
    with open_session() as session:
        rows = list_benchmarks(session=session)
        memory = list_memory_measurements(session=session)
    harness = as_benchmarked(prior)  # the runs' own KV-cache dtype
    cases = [c for c in (case_from_row(r, catalog, harness) for r in rows) if isinstance(c, Case)]
    mem = [m for m in (memory_case(x, catalog) for x in memory) if m is not None]
    return cases, mem, catalog


def _validation() -> dict[str, Any]:
    from planner.calibration_report import memory_errors, validate
    from planner.perf_params import default_params

    cases, mem, catalog = _cases()
    if not cases:
        fail("no comparable benchmark rows in the knowledge base; run `predeploy kb init`")
    report = validate(cases, default_params())
    h100 = catalog.find_gpu("H100-80GB")
    report["kv_cache_tokens"] = memory_errors(mem, h100, default_params()) if h100 else {"rows": 0}
    return report
