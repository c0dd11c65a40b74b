"""Offline validation of rendered objects against their CRD schemas (OpenAPI v3, via jsonschema).

KServe's InferenceService and ServingRuntime are checked against the openAPIV3Schema of the CRDs
in `shared/reference/kserve/` (extracted to `deploy/schemas/*.schema.json` by `extract_crd_schema`,
descriptions dropped). Those "full" CRDs embed Kubernetes' own PodSpec, Container, Probe, Volume
and ResourceRequirements schemas, so the pod-level fields are checked against Kubernetes' schema
through them; predeploy renders no core kinds (the HF token Secret is only referenced).

The API server prunes unknown fields silently, so a typo would pass unnoticed; here
`additionalProperties: false` is injected wherever `properties` exist without
`x-kubernetes-preserve-unknown-fields`, which turns typos into errors. ObjectMeta is `type: object`
in every CRD, so names, labels and annotations are checked by hand.

PodMonitor and ScaledObject: their upstream CRDs are not vendored; `podmonitor.schema.json` and
`scaledobject.schema.json` are hand-written subsets (field names and types as in
prometheus-operator's monitoring.coreos.com_podmonitors and KEDA's keda.sh_scaledobjects CRDs)
covering the fields predeploy renders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from deploy.errors import ManifestInvalidError
from deploy.kinds import BY_KIND, KindInfo
from deploy.names import is_label_value
from deploy.render import Manifest, RenderedManifests

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_ANNOTATIONS_MAX_BYTES = 256 * 1024


def validate_rendered(rendered: RenderedManifests) -> None:
    """Validate every object of a render.

    Raises:
        ManifestInvalidError: the first object that fails, with every problem found in it.
    """
    for manifest in rendered.manifests:
        validate_manifest(manifest)


def validate_manifest(manifest: Manifest) -> None:
    """Validate one rendered object.

    Raises:
        ManifestInvalidError: the object fails its schema or its metadata rules.
    """
    problems = validation_problems(manifest.body, manifest.info)
    if problems:
        raise ManifestInvalidError(manifest.info.kind, manifest.name, problems)


def validation_problems(body: dict[str, Any], info: KindInfo | None = None) -> list[str]:
    """Every schema and metadata problem of one object, as readable strings (empty when valid)."""
    info = info or BY_KIND.get(str(body.get("kind")))
    if info is None:
        return [f"kind {body.get('kind')!r} is not one predeploy renders ({', '.join(BY_KIND)})"]
    problems = []
    if body.get("apiVersion") != info.api_version:
        problems.append(f"apiVersion is {body.get('apiVersion')!r}, expected {info.api_version!r}")
    for error in sorted(_validator(info.schema_file).iter_errors(body), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"{path}: {error.message}")
    problems.extend(_metadata_problems(body.get("metadata")))
    return problems


def _metadata_problems(meta: object) -> list[str]:
    if not isinstance(meta, dict):
        return ["metadata: missing or not a mapping"]
    problems = []
    for field in ("name", "namespace"):
        value = meta.get(field)
        if not isinstance(value, str) or len(value) > 63 or not _DNS_SUBDOMAIN_RE.fullmatch(value):
            problems.append(f"metadata.{field}: {value!r} is not a DNS-1123 label")
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [*problems, "metadata.labels: not a mapping"]
    for key, value in labels.items():
        if not _is_qualified_name(key):
            problems.append(f"metadata.labels: key {key!r} is not a qualified name")
        if not isinstance(value, str) or not is_label_value(value):
            problems.append(f"metadata.labels.{key}: value {value!r} is not a valid label value")
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        return [*problems, "metadata.annotations: not a mapping"]
    for key, value in annotations.items():
        if not _is_qualified_name(key) or not isinstance(value, str):
            problems.append(f"metadata.annotations: {key!r}: {value!r} needs a qualified key, a string value")
    if len(json.dumps(annotations).encode()) > _ANNOTATIONS_MAX_BYTES:
        problems.append("metadata.annotations: more than 256 KiB in total")
    return problems


def _is_qualified_name(key: object) -> bool:
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN_RE.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME_RE.fullmatch(name))


@cache
def _validator(schema_file: str) -> jsonschema.protocols.Validator:
    raw = resources.files("deploy").joinpath("schemas", schema_file).read_text(encoding="utf-8")
    schema = strict_schema(json.loads(raw))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def strict_schema(node: Any) -> Any:
    """Copy of an OpenAPI schema with `additionalProperties: false` wherever `properties` exist
    without `x-kubernetes-preserve-unknown-fields` (so unknown fields are errors, not pruned)."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict_schema(value) for key, value in node.items()}
    closable = isinstance(node.get("properties"), dict) and not node.get(_PRESERVE)
    if closable and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def extract_crd_schema(crd_path: Path, version: str) -> dict[str, Any]:
    """The openAPIV3Schema of one version of a CRD file, without descriptions (they are 2/3 of it).

    Raises:
        KeyError: the CRD has no such version.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(crd_path.read_text(encoding="utf-8"), Loader=loader)
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = _drop_descriptions(entry["schema"]["openAPIV3Schema"])
            return schema
    raise KeyError(f"{crd_path.name} has no version {version!r}")


def _drop_descriptions(node: Any) -> Any:
    if isinstance(node, list):
        return [_drop_descriptions(item) for item in node]
    if not isinstance(node, dict):
        return node
    # A property *named* "description" maps to a schema (a dict); the keyword maps to a string.
    return {
        k: _drop_descriptions(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))
    }


def dump_schema(schema: dict[str, Any]) -> str:
    """The canonical JSON text of a schema file in deploy/schemas/."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n"


def validate_objects(bodies: Iterable[dict[str, Any]]) -> list[str]:
    """Problems of parsed objects (e.g. a YAML file someone edited), prefixed with kind/name."""
    problems = []
    for body in bodies:
        name = (body.get("metadata") or {}).get("name") if isinstance(body.get("metadata"), dict) else None
        problems += [f"{body.get('kind')}/{name}: {p}" for p in validation_problems(body)]
    return problems
