"""Render a planned option into KServe + vLLM manifests (pure: no I/O but reading the templates).

`render(plan, option_rank=1, gpu=..., settings=...)` returns the objects in apply order: the
ServingRuntime, the InferenceService, then optionally a PodMonitor and a KEDA ScaledObject. Every
number comes from the plan or the settings and is computed here; the templates only loop and test.
Every string reaches YAML through the `q` filter (a JSON string is a valid YAML double-quoted
scalar), so user text cannot add keys; names are checked DNS-1123 labels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2
import yaml

from deploy import kinds
from deploy.args import engine_args, precision_args
from deploy.errors import ManifestInvalidError, PlanInputError
from deploy.kinds import KindInfo
from deploy.names import derive_name, is_label_value, validate_name, validate_namespace
from deploy.render_settings import VLLM_IMAGE, VLLM_IMAGES, MonitoringKind, RenderSettings, check_settings
from planner.catalog import normalise_name
from planner.plan import Option, PlanResult, ServingConfig
from planner.types import GpuSpec

__all__ = ["Manifest", "MonitoringKind", "RenderSettings", "RenderedManifests", "render", "select_option"]
SERVING_PORT = 8080  # the port KServe's vLLM runtime and `predeploy simulate` listen on
MANAGED_BY = "predeploy"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is 10x faster
GPU_PRODUCT_LABEL = {"nvidia": "nvidia.com/gpu.product", "amd": "amd.com/gpu.product-name"}


@dataclass(frozen=True)
class Manifest:
    """One rendered object: its YAML text and the parsed body."""

    info: KindInfo
    name: str
    namespace: str
    text: str
    body: dict[str, Any]

    @property
    def file_name(self) -> str:
        return f"{self.info.kind.lower()}-{self.name}.yaml"


@dataclass(frozen=True)
class RenderedManifests:
    """The objects of one option, in apply order."""

    name: str
    namespace: str
    served_model_name: str
    manifests: tuple[Manifest, ...]

    def to_yaml(self) -> str:
        """All objects as one multi-document YAML stream."""
        return "---\n" + "---\n".join(m.text for m in self.manifests)

    def get(self, kind: str) -> Manifest | None:
        return next((m for m in self.manifests if m.info.kind == kind), None)


def render(
    plan: PlanResult, *, option_rank: int = 1, gpu: GpuSpec, settings: RenderSettings
) -> RenderedManifests:
    """Render the option with this rank.

    Raises:
        PlanInputError: no such option, no serving config (re-plan), or a value out of range.
        InvalidNameError: the name or namespace is not a DNS-1123 label.
        ManifestInvalidError: a template produced something that does not parse back (a bug).
    """
    option = select_option(plan, option_rank)
    serving = _serving_of(option)
    _check_gpu(option, gpu)
    context = build_context(option, serving, gpu=gpu, settings=settings)
    infos = [kinds.SERVING_RUNTIME, kinds.INFERENCE_SERVICE]
    if settings.monitoring is MonitoringKind.PODMONITOR:
        infos.append(kinds.POD_MONITOR)
    if settings.keda:
        infos.append(kinds.SCALED_OBJECT)
    manifests = tuple(_render_one(info, context) for info in infos)
    return RenderedManifests(
        name=context["name"],
        namespace=context["namespace"],
        served_model_name=context["served_model_name"],
        manifests=manifests,
    )


def select_option(plan: PlanResult, option_rank: int) -> Option:
    """Return the option with this rank.

    Raises:
        PlanInputError: the plan has no option with that rank.
    """
    for option in plan.options:
        if option.rank == option_rank:
            return option
    ranks = ", ".join(str(o.rank) for o in plan.options) or "none"
    raise PlanInputError(
        f"the plan has no option {option_rank} (its options: {ranks}). Pick one with --option N, "
        "or re-plan if the plan has no options."
    )


def _serving_of(option: Option) -> ServingConfig:
    if option.serving is None:
        raise PlanInputError(
            f"option {option.rank} ({option.model_id} on {option.gpu_type}) has no serving config "
            "(vLLM arguments); the plan predates them. Re-plan with `predeploy plan --json` and deploy that."
        )
    return option.serving


def _check_gpu(option: Option, gpu: GpuSpec) -> None:
    names = {normalise_name(n) for n in (gpu.id, gpu.name, *gpu.aliases)}
    if normalise_name(option.gpu_type) not in names:
        raise PlanInputError(f"option {option.rank} is for {option.gpu_type!r} but GPU {gpu.id!r} was given")
    if gpu.vendor not in GPU_PRODUCT_LABEL:
        raise PlanInputError(f"GPU {gpu.id!r} has vendor {gpu.vendor!r}; predeploy knows nvidia and amd")
    tp = option.tensor_parallel
    limit = min(gpu.max_tensor_parallel, gpu.gpus_per_node)
    if tp < 1 or tp > limit:
        raise PlanInputError(
            f"option {option.rank} uses tensor_parallel={tp}, but one {gpu.id} node allows "
            f"1..{limit}; re-plan."
        )
    if option.replicas < 1:
        raise PlanInputError(f"option {option.rank} has replicas={option.replicas}; it needs at least 1")


def build_context(
    option: Option, serving: ServingConfig, *, gpu: GpuSpec, settings: RenderSettings
) -> dict[str, Any]:
    """Every value the templates use, computed and checked here."""
    check_settings(settings)
    namespace = validate_namespace(settings.namespace)
    if settings.name:
        name = validate_name(settings.name)
    else:
        name = derive_name(
            option.model_id, option.gpu_type, option.tensor_parallel
        )  # as workers.observe does
    simulator = settings.simulator_image is not None
    min_replicas, max_replicas = _replica_bounds(option, settings)
    annotations = _annotations(option, settings=settings)
    if serving.checkpoint and not simulator:
        annotations["predeploy.io/checkpoint"] = serving.checkpoint
    args = [] if simulator else engine_args(option, serving, served_model_name=name)
    args += [] if simulator else precision_args(option, serving)
    return {
        "name": name,
        "namespace": namespace,
        "served_model_name": name,
        "labels": sorted(_labels(option, name=name, settings=settings).items()),
        "annotations": sorted(annotations.items()),
        "isvc_annotations": sorted(_isvc_annotations(settings, scales=max_replicas > min_replicas).items())
        + sorted(annotations.items()),
        "simulator": simulator,
        "image": settings.simulator_image or settings.vllm_image or VLLM_IMAGES.get(gpu.vendor, VLLM_IMAGE),
        "command": _command(simulator),
        "runtime_args": _runtime_args(option, serving, gpu=gpu, name=name, simulator=simulator),
        "args": args,
        "port": SERVING_PORT,
        "storage_uri": None
        if simulator
        else (settings.storage_uri or f"hf://{serving.checkpoint or option.model_id}"),
        "hf_token_secret": None if simulator else settings.hf_token_secret,
        "hf_token_key": settings.hf_token_key,
        "gpu": None if simulator else _gpu_context(option, gpu, settings),
        "min_replicas": min_replicas,
        "max_replicas": max_replicas,
        "shm_size": f"{settings.shm_gib}Gi",
        "model_format_version": "1",
        "readiness_period_s": 10,
        "readiness_failures": 3,
        "startup_period_s": 30,
        "startup_failures": max(1, -(-settings.startup_timeout_s // 30)),
        "scrape_interval": f"{settings.scrape_interval_s}s",
        "scale_target": f"{name}-predictor",  # the Deployment KServe's Standard mode creates
        "keda_query": f'sum(vllm:num_requests_waiting{{namespace="{namespace}",model_name="{name}"}})',
        "keda_threshold": str(settings.keda_waiting_threshold),
        "prometheus_url": settings.prometheus_url,
    }


def _replica_bounds(option: Option, settings: RenderSettings) -> tuple[int, int]:
    if not settings.keda:
        return option.replicas, option.replicas
    extra = (option.model_extra or {}).get("max_replicas")
    upper = settings.max_replicas or (extra if isinstance(extra, int) else None) or option.replicas
    if upper < option.replicas:
        raise PlanInputError(f"max_replicas={upper} is below the plan's replicas={option.replicas}")
    return option.replicas, upper


def _gpu_context(option: Option, gpu: GpuSpec, settings: RenderSettings) -> dict[str, Any]:
    tp = option.tensor_parallel
    return {
        "resource_name": gpu.resource_name,
        "count": str(tp),
        "label_key": GPU_PRODUCT_LABEL[gpu.vendor],
        "label_value": gpu.node_label,
        "cpu": str(settings.cpu_per_gpu * tp),
        "memory": f"{settings.memory_gib_per_gpu * tp}Gi",
    }


def _command(simulator: bool) -> list[str]:
    if simulator:
        return ["predeploy", "simulate"]
    return ["python", "-m", "vllm.entrypoints.openai.api_server"]


def _runtime_args(
    option: Option, serving: ServingConfig, *, gpu: GpuSpec, name: str, simulator: bool
) -> list[str]:
    if simulator:  # `predeploy simulate` models the planned model, GPU, TP and precision
        return [
            "--host=0.0.0.0",
            f"--port={SERVING_PORT}",
            f"--served-model-name={name}",
            f"--model={option.model_id}",
            f"--gpu={gpu.id}",
            f"--tp={option.tensor_parallel}",
            f"--precision={option.precision}",
            f"--max-model-len={serving.max_model_len}",
        ]
    return [f"--port={SERVING_PORT}", "--model=/mnt/models"]


def _labels(option: Option, *, name: str, settings: RenderSettings) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "llm-inference",
        "predeploy.io/option-rank": str(option.rank),
    }
    ids = (("predeploy.io/plan-id", settings.plan_id), ("predeploy.io/thread-id", settings.thread_id))
    for key, value in ids:
        if value and is_label_value(value):
            labels[key] = value
    return labels


def _annotations(option: Option, *, settings: RenderSettings) -> dict[str, str]:
    predicted = option.predicted
    notes = {
        "predeploy.io/model-id": option.model_id,
        "predeploy.io/gpu-type": option.gpu_type,
        "predeploy.io/precision": option.precision,
        "predeploy.io/tensor-parallel": str(option.tensor_parallel),
        "predeploy.io/replicas": str(option.replicas),
        "predeploy.io/predicted-percentile": predicted.percentile,
        "predeploy.io/cost-per-month-usd": f"{option.cost_per_month_usd:.2f}",
    }
    latencies = (("ttft-ms", predicted.ttft_ms), ("tpot-ms", predicted.tpot_ms), ("e2e-ms", predicted.e2e_ms))
    for key, value in latencies:
        if value is not None:
            notes[f"predeploy.io/predicted-{key}"] = f"{value:g}"
    if settings.plan_id:
        notes["predeploy.io/plan-id"] = settings.plan_id
    if settings.thread_id:
        notes["predeploy.io/thread-id"] = settings.thread_id
    if settings.simulator_image:
        notes["predeploy.io/runtime"] = "simulator"
    return notes


def _isvc_annotations(settings: RenderSettings, *, scales: bool) -> dict[str, str]:
    # KEDA: our own ScaledObject drives the predictor Deployment, so KServe must not add an HPA.
    autoscaler = "external" if settings.keda else ("hpa" if scales else "none")
    notes = {
        "serving.kserve.io/deploymentMode": "Standard",
        "serving.kserve.io/autoscalerClass": autoscaler,
    }
    if settings.monitoring is not MonitoringKind.NONE:
        notes["serving.kserve.io/enable-prometheus-scraping"] = "true"
    return notes


def _render_one(info: KindInfo, context: dict[str, Any]) -> Manifest:
    text = _environment().get_template(info.template).render(context)
    try:
        body = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader: no Python tags
    except yaml.YAMLError as exc:
        raise ManifestInvalidError(info.kind, context["name"], [f"does not parse as YAML: {exc}"]) from exc
    meta = body.get("metadata", {}) if isinstance(body, dict) else {}
    if not isinstance(body, dict) or body.get("kind") != info.kind or meta.get("name") != context["name"]:
        raise ManifestInvalidError(info.kind, context["name"], ["template output has the wrong kind or name"])
    return Manifest(info=info, name=context["name"], namespace=context["namespace"], text=text, body=body)


def _quote(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the q filter takes strings, got {type(value).__name__} {value!r}")
    return json.dumps(value)


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"the n filter takes numbers, got {type(value).__name__} {value!r}")
    return json.dumps(value)


def _load_template(name: str) -> str:
    return resources.files("templates").joinpath(name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    """The one Jinja2 environment; templates come from the `templates` package."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    filters: dict[str, Callable[[object], str]] = {"q": _quote, "n": _number}
    env.filters.update(filters)
    return env
