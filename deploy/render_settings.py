"""What a render needs besides the plan, and the checks that keep user-given settings safe."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from deploy.errors import SettingsError
from deploy.names import DNS_LABEL_MAX_CHARS

VLLM_IMAGE = "vllm/vllm-openai:v0.33.0"  # INTEGRATION.md targets vLLM 0.33.0; never ':latest'
# AMD GPUs need vLLM built for ROCm: vLLM's official ROCm image (Docker Hub vllm/vllm-openai-rocm,
# published since 2026-01-20 with the same version tags; vLLM docs, installation/gpu.rocm)
VLLM_ROCM_IMAGE = "vllm/vllm-openai-rocm:v0.33.0"
VLLM_IMAGES = {"nvidia": VLLM_IMAGE, "amd": VLLM_ROCM_IMAGE}  # by GPU vendor
STORAGE_SCHEMES = ("hf://", "pvc://", "s3://", "gs://", "oci://", "https://")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


class MonitoringKind(StrEnum):
    """How Prometheus finds the vLLM /metrics endpoint."""

    PODMONITOR = "podmonitor"  # a prometheus-operator PodMonitor object
    ANNOTATIONS = "annotations"  # KServe's enable-prometheus-scraping annotation only
    NONE = "none"


@dataclass(frozen=True)
class RenderSettings:
    """Everything a render needs besides the plan; numbers here are deployment policy, not plan."""

    namespace: str = "default"
    name: str | None = None  # None: derived from model, GPU and TP
    vllm_image: str | None = None  # None: the official image for the GPU's vendor (VLLM_IMAGES)
    simulator_image: str | None = None  # set: run `predeploy simulate` instead of vLLM, no GPUs
    storage_uri: str | None = None  # None: hf://<model id>; or pvc://<claim>/<path>
    hf_token_secret: str | None = "hf-token"  # a Secret holding the token; never its value
    hf_token_key: str = "HF_TOKEN"
    plan_id: str | None = None
    thread_id: str | None = None
    keda: bool = False
    keda_waiting_threshold: int = 4  # scale out when this many requests wait per replica
    max_replicas: int | None = None  # KEDA upper bound; None: the option's max_replicas or replicas
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    monitoring: MonitoringKind = MonitoringKind.PODMONITOR
    scrape_interval_s: int = 15
    cpu_per_gpu: int = 8
    memory_gib_per_gpu: int = 64
    shm_gib: int = 16
    startup_timeout_s: int = 1800  # vLLM downloads and loads weights before /health answers


def check_settings(settings: RenderSettings) -> None:
    """Refuse settings a reviewer would refuse: unpinned images, odd storage, bad secret names.

    Raises:
        SettingsError: the first problem, with what to use instead.
    """
    for label, image in (("vLLM image", settings.vllm_image), ("simulator image", settings.simulator_image)):
        if image is not None:
            _check_image(label, image)
    if settings.storage_uri is not None and not settings.storage_uri.startswith(STORAGE_SCHEMES):
        raise SettingsError(
            f"storage URI {settings.storage_uri!r} has no known scheme; "
            f"use one of {', '.join(STORAGE_SCHEMES)}"
        )
    secret = settings.hf_token_secret
    if secret is not None and (len(secret) > 253 or not _SUBDOMAIN_RE.fullmatch(secret)):
        raise SettingsError(f"HF token secret name {secret!r} is not a valid Kubernetes Secret name")
    if not _SECRET_KEY_RE.fullmatch(settings.hf_token_key):
        raise SettingsError(f"HF token key {settings.hf_token_key!r} is not a valid Secret key")
    for field in (
        "keda_waiting_threshold",
        "scrape_interval_s",
        "cpu_per_gpu",
        "memory_gib_per_gpu",
        "shm_gib",
    ):
        if getattr(settings, field) < 1:
            raise SettingsError(f"{field}={getattr(settings, field)} must be at least 1")
    if settings.startup_timeout_s < 30:
        raise SettingsError(
            f"startup_timeout_s={settings.startup_timeout_s} is under 30 s; vLLM cannot load by then"
        )
    if settings.plan_id is not None and len(settings.plan_id) > DNS_LABEL_MAX_CHARS * 4:
        raise SettingsError("plan_id is longer than 252 characters")


def _check_image(label: str, image: str) -> None:
    if not _IMAGE_RE.fullmatch(image) or image.rsplit("/", 1)[-1].partition(":")[2] in ("", "latest"):
        raise SettingsError(
            f"{label} {image!r} is not pinned: give a version tag (e.g. {VLLM_IMAGE}) or a @sha256 digest, "
            "never ':latest'"
        )
