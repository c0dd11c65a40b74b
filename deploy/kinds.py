"""The resource kinds predeploy renders, with their API group, version, plural and schema file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    """How one kind is addressed on the Kubernetes API and where its schema lives."""

    kind: str
    group: str
    version: str
    plural: str
    schema_file: str  # in deploy/schemas/
    template: str  # in templates/

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


SERVING_RUNTIME = KindInfo(
    "ServingRuntime",
    "serving.kserve.io",
    "v1alpha1",
    "servingruntimes",
    "servingruntime.schema.json",
    "servingruntime.yaml.j2",
)
INFERENCE_SERVICE = KindInfo(
    "InferenceService",
    "serving.kserve.io",
    "v1beta1",
    "inferenceservices",
    "inferenceservice.schema.json",
    "inferenceservice.yaml.j2",
)
POD_MONITOR = KindInfo(
    "PodMonitor",
    "monitoring.coreos.com",
    "v1",
    "podmonitors",
    "podmonitor.schema.json",
    "podmonitor.yaml.j2",
)
SCALED_OBJECT = KindInfo(
    "ScaledObject",
    "keda.sh",
    "v1alpha1",
    "scaledobjects",
    "scaledobject.schema.json",
    "scaledobject.yaml.j2",
)

# Apply order: the runtime before the service that names it; the add-ons after.
KINDS: tuple[KindInfo, ...] = (SERVING_RUNTIME, INFERENCE_SERVICE, POD_MONITOR, SCALED_OBJECT)
BY_KIND: dict[str, KindInfo] = {k.kind: k for k in KINDS}


def kind_info(kind: str) -> KindInfo:
    """Return the KindInfo of a kind predeploy renders.

    Raises:
        KeyError: a kind predeploy does not render.
    """
    return BY_KIND[kind]
