"""Schema validation: every GPU x precision x TP of the catalog renders valid objects; typos are caught."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from deploy.errors import ManifestInvalidError
from deploy.kinds import INFERENCE_SERVICE, SERVING_RUNTIME
from deploy.render import MonitoringKind, RenderSettings, render
from deploy.validate import (
    dump_schema,
    extract_crd_schema,
    validate_manifest,
    validate_rendered,
    validation_problems,
)
from planner.types import GpuSpec
from tests.deploy.conftest import gpu_by_id, make_plan, option_dict, seed_gpus

SHARED_KSERVE = Path(__file__).parents[3] / "shared" / "reference" / "kserve"
SCHEMAS = Path(__file__).parents[2] / "deploy" / "schemas"


def _precisions(gpu: GpuSpec) -> list[str]:
    out = ["bf16", "fp16", "int4"]
    if gpu.fp8_tflops > 0:
        out.append("fp8")
    if gpu.int8_tops > 0:
        out.append("int8")
    return out


def _tps(gpu: GpuSpec) -> list[int]:
    limit = min(gpu.max_tensor_parallel, gpu.gpus_per_node)
    return [tp for tp in (1, 2, 4, 8) if tp <= limit]


def test_every_catalog_gpu_precision_and_tp_renders_valid_manifests() -> None:
    gpus = seed_gpus()
    assert len(gpus) >= 10, "the seed catalog should list the GPUs predeploy plans for"
    combos = 0
    for gpu in gpus:
        for precision in _precisions(gpu):
            for tp in _tps(gpu):
                serving = {"quantization": "awq_marlin"} if precision == "int4" else {}
                if precision == "fp8":
                    serving["kv_cache_dtype"] = "fp8"
                option = option_dict(
                    gpu_type=gpu.id, precision=precision, tensor_parallel=tp, gpu_count=tp, serving=serving
                )
                settings = RenderSettings(namespace="ns", keda=tp % 2 == 0, plan_id=f"p-{combos}")
                rendered = render(make_plan(option), option_rank=1, gpu=gpu, settings=settings)
                validate_rendered(rendered)
                limits = rendered.manifests[1].body["spec"]["predictor"]["model"]["resources"]["limits"]
                assert limits[gpu.resource_name] == str(tp)
                combos += 1
    assert combos >= 100


@pytest.mark.parametrize("monitoring", list(MonitoringKind))
def test_simulator_and_monitoring_variants_validate(monitoring: MonitoringKind) -> None:
    settings = RenderSettings(simulator_image="predeploy:dev", monitoring=monitoring, keda=True)
    validate_rendered(render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=settings))


def _isvc() -> dict:
    rendered = render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())
    isvc = rendered.get("InferenceService")
    assert isvc is not None
    return copy.deepcopy(isvc.body)


def test_a_misspelled_field_is_caught() -> None:
    body = _isvc()
    body["spec"]["predictor"]["model"]["storageUrl"] = body["spec"]["predictor"]["model"].pop("storageUri")
    problems = validation_problems(body, INFERENCE_SERVICE)
    assert any("'storageUrl' was unexpected" in p for p in problems)


def test_a_wrong_type_is_caught() -> None:
    body = _isvc()
    body["spec"]["predictor"]["minReplicas"] = "two"
    assert any("minReplicas" in p for p in validation_problems(body))


def test_a_missing_required_field_is_caught() -> None:
    body = _isvc()
    del body["spec"]["predictor"]
    assert any("'predictor' is a required property" in p for p in validation_problems(body))


def test_a_typo_inside_the_embedded_pod_spec_is_caught() -> None:
    body = _isvc()
    body["spec"]["predictor"]["tolerations"][0]["efect"] = "NoSchedule"
    assert any("'efect' was unexpected" in p for p in validation_problems(body))


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (("labels", "predeploy.io/thread-id"), "has space", "not a valid label value"),
        (("labels", "bad key!"), "x", "not a qualified name"),
        (("name",), "Upper", "not a DNS-1123 label"),
        (("annotations", "predeploy.io/n"), 5, "string value"),
    ],
)
def test_metadata_rules(path: tuple[str, ...], value: object, needle: str) -> None:
    body = _isvc()
    target = body["metadata"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert any(needle in p for p in validation_problems(body))


def test_validate_manifest_raises_with_the_problems() -> None:
    rendered = render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())
    runtime = rendered.manifests[0]
    runtime.body["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(ManifestInvalidError, match="imagePullPolicy.*bug in predeploy"):
        validate_manifest(runtime)


def test_unknown_kinds_are_refused() -> None:
    assert validation_problems({"kind": "Secret", "apiVersion": "v1"})[0].startswith("kind 'Secret'")


@pytest.mark.slow
@pytest.mark.skipif(
    not SHARED_KSERVE.is_dir(), reason="shared/reference/kserve is not next to the repository"
)
@pytest.mark.parametrize(
    ("info", "crd"),
    [
        (INFERENCE_SERVICE, "serving.kserve.io_inferenceservices.yaml"),
        (SERVING_RUNTIME, "serving.kserve.io_servingruntimes.yaml"),
    ],
)
def test_vendored_schemas_match_the_kserve_crds(info, crd: str) -> None:
    fresh = dump_schema(extract_crd_schema(SHARED_KSERVE / crd, info.version))
    assert (SCHEMAS / info.schema_file).read_text() == fresh
