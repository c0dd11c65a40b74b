"""`predeploy simulate | loadtest`: a simulated vLLM server, and a load generator for any OpenAI API."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import typer

from bot.cli.common import fail, print_json, user_errors

DEFAULT_MAX_MODEL_LEN = 32_768  # when the catalog model's context is longer: keeps KV headroom sane


def profile_from_catalog(
    model: str, gpu: str, *, tp: int | None, precision: str, max_model_len: int | None
) -> tuple[Any, int]:
    """The simulator's LatencyProfile for a catalog model on a GPU, from the (calibrated) performance
    model, and the context length (max_model_len) it was sized for.

    Raises:
        PlannerError: unknown names, a bad precision, or a model that does not fit.
    """
    from bot.cli.common import load_catalog_cached
    from kb.calibration import load_params
    from planner.errors import DoesNotFitError, InvalidInputError
    from planner.perf import smallest_fitting_tp, step_profile
    from planner.types import Precision
    from simulator.config import profile_from_dict
    from simulator.errors import ProfileError

    catalog = load_catalog_cached()
    spec, card = catalog.model(model), catalog.gpu(gpu)
    try:
        prec = Precision(precision.lower())
    except ValueError:
        raise InvalidInputError(
            f"unknown precision {precision!r}; use one of {[p.value for p in Precision]}"
        ) from None
    params = load_params()
    length = max_model_len or min(spec.max_context_tokens, DEFAULT_MAX_MODEL_LEN)
    if tp is None:
        tp = smallest_fitting_tp(spec, card, precision=prec, max_model_len=length, params=params)
        if tp is None:
            raise DoesNotFitError(
                f"{spec.id} at {prec.value} does not fit on up to {card.max_tensor_parallel} x {card.id}"
                f" with a {length}-token context. Try fp8/int4, a bigger GPU or a shorter --max-model-len."
            )
    step = step_profile(spec, card, tp=tp, precision=prec, params=params, max_model_len=length)
    try:
        return profile_from_dict(dataclasses.asdict(step)), length
    except ProfileError as exc:
        raise DoesNotFitError(
            f"{spec.id} at {prec.value} on {tp} x {card.id} leaves no usable KV cache ({exc})."
            " Try a larger --tp."
        ) from exc


def register(app: typer.Typer) -> None:
    """Add simulate and loadtest to the CLI."""

    @app.command()
    def simulate(
        model: str = typer.Option(
            None, help="catalog model id or alias (the profile comes from the perf model)"
        ),
        gpu: str = typer.Option(None, help="catalog GPU id or alias"),
        tp: int = typer.Option(None, help="tensor parallel degree (default: smallest that fits)"),
        precision: str = typer.Option("bf16", help="bf16 | fp16 | fp8 | int8 | int4"),
        profile: Path = typer.Option(None, help="latency-profile JSON instead of --model/--gpu"),
        served_model_name: str = typer.Option(None, help="name clients use (default: --model, or sim-model)"),
        host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 to serve other hosts)"),
        port: int = typer.Option(8080, help="port (0 picks a free one)"),
        max_model_len: int = typer.Option(None, help="longest prompt + output, tokens"),
        seed: int = typer.Option(0, help="seed for output lengths, text and faults"),
        error_rate: float = typer.Option(0.0, help="fraction of requests answered with HTTP 500"),
        extra_latency_ms: float = typer.Option(0.0, help="delay added to every request before it queues, ms"),
        startup_delay_s: float = typer.Option(0.0, help="seconds /health answers 503 (model loading)"),
        print_profile: bool = typer.Option(
            False, "--print-profile", help="print the profile as JSON and exit"
        ),
    ) -> None:
        """Serve a simulated vLLM (OpenAI API, streaming, vLLM /metrics) stepping with a latency profile."""
        from simulator import aio
        from simulator.config import Faults, ServerConfig, load_profile
        from simulator.errors import SimulatorError
        from simulator.server import serve

        if profile is None and (model is None or gpu is None):
            fail("give --model and --gpu (the profile comes from the performance model), or --profile FILE")
        try:
            if profile is not None:
                prof = load_profile(profile)
            else:
                with user_errors():
                    prof, context = profile_from_catalog(
                        model, gpu, tp=tp, precision=precision, max_model_len=max_model_len
                    )
                max_model_len = max_model_len or context  # as vLLM: the model's context by default
            if print_profile:
                print_json(prof.to_dict())
                return
            limit = None if max_model_len is None else min(max_model_len, prof.usable_kv_tokens)
            config = ServerConfig(
                model_name=served_model_name or model or "sim-model",
                profile=prof,
                faults=Faults(
                    error_rate=error_rate, extra_latency_ms=extra_latency_ms, startup_delay_s=startup_delay_s
                ),
                seed=seed,
                max_model_len=limit,
            )
        except SimulatorError as exc:
            fail(str(exc))

        def ready(bound: int) -> None:
            typer.echo(
                f"simulated vLLM serving {config.model_name!r} on http://{host}:{bound} (Ctrl-C stops)",
                err=True,
            )

        try:
            aio.run(serve(config, host=host, port=port, on_ready=ready))
        except KeyboardInterrupt:
            pass
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port.", code=1)

    @app.command()
    def loadtest(
        url: str = typer.Option(..., help="server base URL, e.g. http://127.0.0.1:8080"),
        model: str = typer.Option(..., help="served model name"),
        input_tokens: int = typer.Option(..., help="prompt tokens per request"),
        output_tokens: int = typer.Option(..., help="output tokens per request (max_tokens, ignore_eos)"),
        rate: float = typer.Option(None, help="requests/s, evenly spaced (or --poisson)"),
        poisson: bool = typer.Option(False, "--poisson", help="Poisson arrivals at --rate"),
        concurrency: int = typer.Option(None, help="closed loop: this many requests in flight"),
        sweep: bool = typer.Option(False, "--sweep", help="concurrency 1, then max, then rates in between"),
        duration: float = typer.Option(30.0, help="seconds of each run (in-flight requests then finish)"),
        endpoint: str = typer.Option("completions", help="completions | chat"),
        max_requests: int = typer.Option(1_000_000, help="stop sending after this many requests"),
        timeout: float = typer.Option(120.0, help="per-request timeout, s"),
        sweep_points: int = typer.Option(4, help="rates between the sweep's lowest and highest"),
        max_concurrency: int = typer.Option(128, help="the sweep's throughput run"),
        seed: int = typer.Option(0, help="seed for Poisson arrivals"),
        api_key: str = typer.Option(None, help="bearer token, if the server wants one (vLLM --api-key)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON (the keys of predict --json)"),
    ) -> None:
        """Stream requests at a server and report TTFT, ITL, TPOT and e2e percentiles and throughput."""
        from simulator.errors import SimulatorError
        from simulator.loadgen import Endpoint, LoadSpec

        if sum([rate is not None, concurrency is not None, sweep]) != 1:
            fail("give exactly one of --rate R, --concurrency C or --sweep")
        if poisson and rate is None and not sweep:
            fail("--poisson goes with --rate (or --sweep)")
        try:
            kind = Endpoint(endpoint.lower())
        except ValueError:
            fail(f"unknown endpoint {endpoint!r}; use completions or chat")
        try:
            spec = LoadSpec(
                url=url,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                duration_s=duration,
                rate_per_s=rate,
                poisson=poisson,
                concurrency=1 if sweep else concurrency,
                endpoint=kind,
                max_requests=max_requests,
                timeout_s=timeout,
                seed=seed,
                api_key=api_key or None,
            )
            if sweep:
                _sweep(spec, points=sweep_points, max_concurrency=max_concurrency, as_json=as_json)
            else:
                _single(spec, as_json=as_json)
        except SimulatorError as exc:
            fail(str(exc))


def _progress_bar() -> Any:
    """A rich progress bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]} done, {task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _single(spec: Any, *, as_json: bool) -> None:
    from simulator import aio
    from simulator.loadgen import run_load

    bar = _progress_bar()
    if bar is None:
        report = aio.run(run_load(spec))
    else:
        with bar:
            task = bar.add_task("load", total=spec.duration_s, done=0, errors=0)

            def tick(elapsed_s: float, done: int, errors: int) -> None:
                bar.update(task, completed=min(elapsed_s, spec.duration_s), done=done, errors=errors)

            report = aio.run(run_load(spec, on_progress=tick))
    _finish([("run", report)], as_json=as_json, single=True)


def _sweep(spec: Any, *, points: int, max_concurrency: int, as_json: bool) -> None:
    from simulator import aio
    from simulator.loadgen import run_sweep

    def stage(label: str) -> None:
        if sys.stderr.isatty():
            typer.echo(f"sweep: {label} for {spec.duration_s:g} s", err=True)

    results = aio.run(run_sweep(spec, points=points, max_concurrency=max_concurrency, on_stage=stage))
    _finish([(p.label, p.report) for p in results], as_json=as_json, single=False, sweep=results)


def _finish(runs: list[tuple[str, Any]], *, as_json: bool, single: bool, sweep: Any = None) -> None:
    if as_json:
        if single:
            print_json(runs[0][1].to_json())
        else:
            print_json(
                [
                    {
                        "stage": p.label,
                        "rate_per_s": p.rate_per_s,
                        "concurrency": p.concurrency,
                        **p.report.to_json(),
                    }
                    for p in sweep
                ]
            )
    else:
        for label, report in runs:
            typer.echo(_human(label, report))
    for label, report in runs:
        if report.errors:
            typer.echo(f"{label}: {report.errors} errors; first: {report.first_error}", err=True)
    if all(report.requests == 0 for _, report in runs):
        fail("no request succeeded (see the first error above)", code=1)


def _human(label: str, r: Any) -> str:
    head = f"{label}: {r.requests} requests, {r.errors} errors in {r.wall_s:.1f} s"
    lines = [head, f"  {'ms':<6}{'mean':>10}{'p50':>10}{'p90':>10}{'p95':>10}{'p99':>10}"]
    for name in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        values = getattr(r, name).as_tuple()
        lines.append(f"  {name[:-3].upper():<6}" + "".join(f"{v:>10.1f}" for v in values))
    lines.append(f"  {r.requests_per_s:.2f} requests/s, {r.output_tokens_per_s:.1f} output tokens/s")
    return "\n".join(lines)
