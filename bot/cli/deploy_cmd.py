"""`predeploy render | deploy | undeploy`: manifests from a plan, and applying them to a cluster.

PLAN.json is what `predeploy plan --json` prints. A bad plan file exits 2; a cluster that cannot
be reached, a rejected or rolled-back deployment exits 1 (after the YAML was rendered and validated).
The Slack path does not come through here: the deploy worker job calls `deploy.apply.deploy_option`
after an admin's approval is recorded.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import EXIT_ENVIRONMENT, fail, load_catalog_cached, user_errors

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from deploy.apply import Progress
    from deploy.render import RenderedManifests, RenderSettings
    from planner.plan import PlanResult

PLAN_OPT = typer.Option(None, "--plan", help="PLAN.json as printed by `predeploy plan --json`.")
PLAN_ID_OPT = typer.Option(None, "--plan-id", help="Or: a plan stored in the knowledge base (from a thread).")
OPTION_OPT = typer.Option(1, "--option", "--rank", min=1, help="Rank of the option to render (1 = best).")
NAMESPACE_OPT = typer.Option("default", "--namespace", "-n", help="Kubernetes namespace (a DNS-1123 label).")
NAME_OPT = typer.Option(None, "--name", help="InferenceService name; default: from model, GPU and TP.")
SIM_OPT = typer.Option(None, "--simulator-image", help="Run `predeploy simulate` from this image (no GPU).")
IMAGE_OPT = typer.Option(
    None,
    "--vllm-image",
    help="vLLM image, pinned (default vllm/vllm-openai:v0.33.0; vllm/vllm-openai-rocm:v0.33.0 on AMD GPUs).",
)
STORAGE_OPT = typer.Option(
    None, "--storage-uri", help="Model source: hf://org/model (default) or pvc://claim/path."
)
SECRET_OPT = typer.Option("hf-token", "--hf-token-secret", help="Secret with key HF_TOKEN; '' for none.")
KEDA_OPT = typer.Option(
    False, "--keda", help="Autoscale with a KEDA ScaledObject on vllm:num_requests_waiting."
)
MAX_REPLICAS_OPT = typer.Option(None, "--max-replicas", min=1, help="KEDA upper bound (default: the plan's).")
PROMETHEUS_OPT = typer.Option(None, "--prometheus-url", help="Prometheus KEDA queries (with --keda).")
MONITORING_OPT = typer.Option("podmonitor", "--monitoring", help="podmonitor | annotations | none.")


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)
    app.command("deploy")(deploy_command)
    app.command("undeploy")(undeploy_command)


def render_command(
    plan_path: Path | None = PLAN_OPT,
    plan_id: int | None = PLAN_ID_OPT,
    option: int = OPTION_OPT,
    out: Path | None = typer.Option(
        None, "--out", help="Directory for one YAML file per object; default stdout."
    ),
    namespace: str = NAMESPACE_OPT,
    name: str | None = NAME_OPT,
    simulator_image: str | None = SIM_OPT,
    vllm_image: str | None = IMAGE_OPT,
    storage_uri: str | None = STORAGE_OPT,
    hf_token_secret: str = SECRET_OPT,
    keda: bool = KEDA_OPT,
    max_replicas: int | None = MAX_REPLICAS_OPT,
    prometheus_url: str | None = PROMETHEUS_OPT,
    monitoring: str = MONITORING_OPT,
) -> None:
    """Render and validate the KServe + vLLM manifests of one option of a plan."""
    plan, ids = _load_plan(plan_path, plan_id)
    rendered = _render(plan, option, _settings(**_render_args(locals()), **ids))
    if out is None:
        sys.stdout.write(rendered.to_yaml())
        return
    out.mkdir(parents=True, exist_ok=True)
    for manifest in rendered.manifests:
        (out / manifest.file_name).write_text(manifest.text, encoding="utf-8")
        typer.echo(str(out / manifest.file_name))


def deploy_command(
    plan_path: Path | None = PLAN_OPT,
    plan_id: int | None = PLAN_ID_OPT,
    option: int = OPTION_OPT,
    dry_run: bool = typer.Option(False, "--dry-run", help="Server-side dry run only; change nothing."),
    namespace: str = NAMESPACE_OPT,
    context: str | None = typer.Option(None, "--context", help="kubeconfig context (default: current)."),
    name: str | None = NAME_OPT,
    simulator_image: str | None = SIM_OPT,
    vllm_image: str | None = IMAGE_OPT,
    storage_uri: str | None = STORAGE_OPT,
    hf_token_secret: str = SECRET_OPT,
    keda: bool = KEDA_OPT,
    max_replicas: int | None = MAX_REPLICAS_OPT,
    prometheus_url: str | None = PROMETHEUS_OPT,
    monitoring: str = MONITORING_OPT,
    timeout_s: float = typer.Option(1800.0, "--timeout", min=1, help="Seconds to wait for Ready."),
    poll_interval_s: float = typer.Option(5.0, "--poll-interval", min=0.01, help="Seconds between polls."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="URL to health-check instead of status.url."
    ),
    skip_health: bool = typer.Option(
        False, "--skip-health", help="Do not call /health, /v1/models, a completion."
    ),
) -> None:
    """Apply one option of a plan: dry run, apply, wait for Ready, health check; roll back on failure."""
    from deploy.apply import ApplyOptions, Deployer

    plan, ids = _load_plan(plan_path, plan_id)
    rendered = _render(plan, option, _settings(**_render_args(locals()), **ids))
    api = _api_client(context, rendered)
    options = ApplyOptions(
        ready_timeout_s=timeout_s,
        poll_interval_s=poll_interval_s,
        check_health=not skip_health,
        endpoint_url=endpoint,
    )
    with _deploy_errors():
        result = Deployer(api, options=options).deploy(rendered, dry_run=dry_run, progress=_print_progress)
    verb = "would be" if dry_run else "is"
    state = "unchanged" if not result.changed else ("planned" if dry_run else "applied")
    typer.echo(
        f"{rendered.name} in {rendered.namespace}: {state}; it {verb} served as {rendered.served_model_name}"
    )
    for change in result.changes:
        typer.echo(f"  {change.kind}/{change.name}: {change.change}")
    if result.url:
        typer.echo(f"  url: {result.url}")


def undeploy_command(
    name: str = typer.Argument(..., help="InferenceService name, as `predeploy deploy` printed it."),
    namespace: str = NAMESPACE_OPT,
    context: str | None = typer.Option(None, "--context", help="kubeconfig context (default: current)."),
) -> None:
    """Delete the InferenceService, ServingRuntime, PodMonitor and ScaledObject with this name."""
    from deploy.apply import Deployer
    from deploy.errors import DeployError
    from deploy.names import validate_name, validate_namespace

    try:
        validate_name(name, max_chars=63)
        validate_namespace(namespace)
    except DeployError as exc:
        fail(str(exc))
    api = _api_client(context, None)
    with _deploy_errors():
        deleted = Deployer(api).undeploy(name, namespace)
    if not deleted:
        typer.echo(f"nothing named {name!r} in namespace {namespace!r}; nothing deleted")
    for change in deleted:
        typer.echo(f"deleted {change.kind}/{change.name} in {namespace}")


def _render_args(values: dict[str, Any]) -> dict[str, Any]:
    keys = ("namespace", "name", "simulator_image", "vllm_image", "storage_uri", "hf_token_secret", "keda")
    return {k: values[k] for k in (*keys, "max_replicas", "monitoring", "prometheus_url")}


def _settings(
    *,
    namespace: str,
    name: str | None,
    simulator_image: str | None,
    vllm_image: str | None,
    storage_uri: str | None,
    hf_token_secret: str,
    keda: bool,
    max_replicas: int | None,
    monitoring: str,
    prometheus_url: str | None,
    plan_label: str | None = None,
    thread_id: str | None = None,
) -> RenderSettings:
    from deploy.render import MonitoringKind, RenderSettings

    try:
        kind = MonitoringKind(monitoring)
    except ValueError:
        fail(f"--monitoring must be one of {', '.join(m.value for m in MonitoringKind)}, not {monitoring!r}")
    base = RenderSettings()
    return RenderSettings(
        namespace=namespace,
        name=name,
        simulator_image=simulator_image,
        vllm_image=vllm_image,
        storage_uri=storage_uri,
        hf_token_secret=hf_token_secret or None,
        keda=keda,
        max_replicas=max_replicas,
        prometheus_url=prometheus_url or base.prometheus_url,
        monitoring=kind,
        plan_id=plan_label,
        thread_id=thread_id,
    )


def _load_plan(path: Path | None, plan_id: int | None) -> tuple[PlanResult, dict[str, Any]]:
    """The plan from --plan or --plan-id (exactly one), and the ids that label its manifests."""
    if (path is None) == (plan_id is None):
        fail("give the plan either as --plan PLAN.json or as --plan-id N (a plan stored by a thread)")
    if path is not None:
        return _read_plan(path), {}
    from pydantic import ValidationError

    from bot.cli.common import open_session
    from kb import threads
    from planner.plan import PlanResult

    with open_session() as session:
        stored = threads.get_plan(session=session, plan_id=int(plan_id or 0))
    if stored is None:
        fail(f"no plan {plan_id} is stored in the knowledge base; plan again in the thread or use --plan")
    try:
        plan = PlanResult.model_validate(stored["result"])
    except ValidationError as exc:
        fail(
            f"plan {plan_id} in the knowledge base is not a plan result ({exc.error_count()} errors); re-plan"
        )
    return plan, {"plan_label": f"plan-{plan_id}", "thread_id": str(stored["thread_id"])}


def _read_plan(path: Path) -> PlanResult:
    """PLAN.json, checked against the plan models; every problem exits 2 with what to do."""
    from pydantic import ValidationError

    from planner.plan import PlanResult

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the plan {str(path)!r}: {exc.strerror or exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"{path} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "write it with `predeploy plan --json`"
        )
    try:
        return PlanResult.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:3]
        )
        fail(f"{path} is not a plan as printed by `predeploy plan --json`: {problems}")


def _render(plan: PlanResult, option_rank: int, settings: RenderSettings) -> RenderedManifests:
    from deploy.errors import DeployError
    from deploy.render import render, select_option
    from deploy.validate import validate_rendered

    try:
        chosen = select_option(plan, option_rank)
        with user_errors():
            gpu = load_catalog_cached().gpu(chosen.gpu_type)
        rendered = render(plan, option_rank=option_rank, gpu=gpu, settings=settings)
        validate_rendered(rendered)
    except DeployError as exc:
        fail(str(exc))
    return rendered


def _api_client(context: str | None, rendered: RenderedManifests | None) -> ApiClient:
    from deploy.apply import api_client_from_kubeconfig
    from deploy.errors import ClusterUnavailableError

    try:
        return api_client_from_kubeconfig(context, config_file=os.environ.get("KUBECONFIG"))
    except ClusterUnavailableError as exc:
        if rendered is not None:
            sys.stdout.write(rendered.to_yaml())
            typer.echo("# the manifests above are rendered and valid, but were not applied", err=True)
        fail(str(exc), EXIT_ENVIRONMENT)


@contextmanager
def _deploy_errors() -> Iterator[None]:
    """Deploy failures become a one-line message and exit 1 (bad names and plans exit 2)."""
    from deploy.errors import DeployError, InvalidNameError, PlanInputError

    try:
        yield
    except (InvalidNameError, PlanInputError) as exc:
        fail(str(exc))
    except DeployError as exc:
        fail(str(exc), EXIT_ENVIRONMENT)


def _print_progress(progress: Progress) -> None:
    typer.echo(f"[{progress.step}] {progress.message}", err=True)
