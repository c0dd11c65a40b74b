"""Rendering: golden files, safe values, names, vLLM arguments, plan errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.errors import InvalidNameError, PlanInputError, SettingsError
from deploy.names import MAX_NAME_CHARS, derive_name, validate_name
from deploy.render import MonitoringKind, RenderSettings, render
from tests.deploy.conftest import gpu_by_id, make_plan, option_dict

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES = Path(__file__).parents[2] / "templates"

CASES = {
    "h100-bf16-tp1": (option_dict(), "H100-SXM", RenderSettings(namespace="team-a")),
    "mi300x-fp8-tp4-keda-pvc": (
        option_dict(
            model_id="meta-llama/Llama-3.1-70B-Instruct",
            gpu_type="MI300X",
            gpu_count=8,
            tensor_parallel=4,
            replicas=2,
            precision="fp8",
            serving={"max_model_len": 32768, "kv_cache_dtype": "fp8", "max_num_seqs": 64},
        ),
        "MI300X",
        RenderSettings(
            namespace="llm-prod",
            storage_uri="pvc://models/llama-3.1-70b-instruct",
            plan_id="plan-42",
            thread_id="1732790000.123456",
            keda=True,
            max_replicas=4,
            hf_token_secret=None,
        ),
    ),
    "simulator-no-monitoring": (
        option_dict(tensor_parallel=2, gpu_count=2, replicas=1),
        "H100-SXM",
        RenderSettings(
            name="chat-sim", simulator_image="ghcr.io/example/predeploy:0.1.0", monitoring=MonitoringKind.NONE
        ),
    ),
}


def _render(case: str):
    option, gpu_id, settings = CASES[case]
    return render(make_plan(option), option_rank=1, gpu=gpu_by_id(gpu_id), settings=settings)


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden(case: str) -> None:
    rendered = _render(case)
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered.to_yaml())
    assert list(yaml.safe_load_all(rendered.to_yaml())) == list(yaml.safe_load_all(path.read_text()))


def test_h100_manifest_carries_the_plan() -> None:
    isvc = _render("h100-bf16-tp1").get("InferenceService")
    assert isvc is not None
    predictor = isvc.body["spec"]["predictor"]
    model = predictor["model"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 2)
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.product": gpu_by_id("H100-SXM").node_label}
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert model["storageUri"] == "hf://meta-llama/Llama-3.1-8B-Instruct"
    assert model["env"][0]["valueFrom"]["secretKeyRef"] == {
        "name": "hf-token",
        "key": "HF_TOKEN",
        "optional": True,
    }
    assert "--max-num-seqs=128" in model["args"] and "--dtype=bfloat16" in model["args"]
    assert isvc.body["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "none"


def test_mi300x_uses_amd_resources_keda_and_pvc() -> None:
    rendered = _render("mi300x-fp8-tp4-keda-pvc")
    isvc = rendered.get("InferenceService")
    scaled = rendered.get("ScaledObject")
    assert isvc is not None and scaled is not None
    model = isvc.body["spec"]["predictor"]["model"]
    assert model["resources"]["requests"]["amd.com/gpu"] == "4"
    assert "amd.com/gpu.product-name" in isvc.body["spec"]["predictor"]["nodeSelector"]
    assert {"--quantization=fp8", "--kv-cache-dtype=fp8", "--tensor-parallel-size=4"} <= set(model["args"])
    assert model["storageUri"] == "pvc://models/llama-3.1-70b-instruct" and "env" not in model
    assert isvc.body["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"
    assert scaled.body["spec"]["scaleTargetRef"]["name"] == f"{rendered.name}-predictor"
    assert (scaled.body["spec"]["minReplicaCount"], scaled.body["spec"]["maxReplicaCount"]) == (2, 4)
    assert 'namespace="llm-prod"' in scaled.body["spec"]["triggers"][0]["metadata"]["query"]
    assert isvc.body["metadata"]["labels"]["predeploy.io/plan-id"] == "plan-42"


def test_simulator_mode_needs_no_gpu_and_no_weights() -> None:
    rendered = _render("simulator-no-monitoring")
    assert [m.info.kind for m in rendered.manifests] == ["ServingRuntime", "InferenceService"]
    runtime = rendered.manifests[0].body["spec"]["containers"][0]
    assert runtime["image"] == "ghcr.io/example/predeploy:0.1.0"
    assert runtime["command"] == ["predeploy", "simulate"]
    assert {"--port=8080", "--tp=2", "--gpu=H100-SXM", "--served-model-name=chat-sim"} <= set(runtime["args"])
    predictor = rendered.manifests[1].body["spec"]["predictor"]
    assert "nodeSelector" not in predictor and "resources" not in predictor["model"]
    assert "storageUri" not in predictor["model"]


@pytest.mark.parametrize(
    ("precision", "serving", "expected", "absent"),
    [
        ("bf16", {}, {"--dtype=bfloat16"}, "--quantization"),
        ("fp16", {}, {"--dtype=float16"}, "--quantization"),
        ("fp8", {}, {"--quantization=fp8"}, "--dtype"),
        ("int4", {"quantization": "awq_marlin"}, {"--quantization=awq_marlin"}, "--dtype"),
        ("int8", {}, set(), "--quantization"),
        ("bf16", {"kv_cache_dtype": "fp8_e4m3"}, {"--kv-cache-dtype=fp8_e4m3"}, "--quantization"),
        (
            "bf16",
            {"enable_prefix_caching": False, "enable_chunked_prefill": False},
            {"--no-enable-prefix-caching", "--no-enable-chunked-prefill"},
            "--enable-prefix-caching",
        ),
    ],
)
def test_precision_and_caching_arguments(
    precision: str, serving: dict, expected: set[str], absent: str
) -> None:
    plan = make_plan(option_dict(precision=precision, serving=serving))
    rendered = render(plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())
    args = rendered.manifests[1].body["spec"]["predictor"]["model"]["args"]
    assert expected <= set(args)
    assert not any(a.startswith(absent) for a in args)


def test_tensor_parallel_above_one_uses_the_mp_backend() -> None:
    plan = make_plan(option_dict(tensor_parallel=2, gpu_count=2))
    args = render(plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings()).manifests[1].body
    assert "--distributed-executor-backend=mp" in args["spec"]["predictor"]["model"]["args"]


def test_option_without_serving_config_asks_to_replan() -> None:
    plan = make_plan(option_dict(serving=None))
    with pytest.raises(PlanInputError, match="no serving config.*Re-plan"):
        render(plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())


def test_missing_option_lists_the_ranks() -> None:
    plan = make_plan(option_dict(rank=1), option_dict(rank=2))
    with pytest.raises(PlanInputError, match=r"no option 7 \(its options: 1, 2\)"):
        render(plan, option_rank=7, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tensor_parallel": 16, "gpu_count": 16}, "tensor_parallel=16"),
        ({"gpu_type": "A100-80GB"}, "is for 'A100-80GB'"),
        ({"replicas": 0}, "replicas=0"),
        ({"serving": {"gpu_memory_utilization": 1.5}}, "gpu_memory_utilization=1.5"),
        ({"serving": {"kv_cache_dtype": "int3"}}, "kv_cache_dtype='int3'"),
        ({"serving": {"quantization": "awq\n  evil: true"}}, "not a vLLM method name"),
        (
            {"serving": {"enable_chunked_prefill": False, "max_num_batched_tokens": 2048}},
            "without chunked prefill",
        ),
    ],
)
def test_values_vllm_would_reject_are_refused(overrides: dict, message: str) -> None:
    plan = make_plan(option_dict(**overrides))
    with pytest.raises(PlanInputError, match=re.escape(message)):
        render(plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())


def test_model_id_cannot_inject_yaml() -> None:
    evil = 'org/x"\n  evil: true\n#'
    plan = make_plan(option_dict(model_id=evil))
    rendered = render(
        plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings(thread_id='t"\n  a: b')
    )
    for manifest in rendered.manifests:
        assert "evil" not in _keys(manifest.body)
    isvc = rendered.get("InferenceService")
    assert isvc is not None
    assert isvc.body["metadata"]["annotations"]["predeploy.io/model-id"] == evil
    assert isvc.body["spec"]["predictor"]["model"]["storageUri"] == f"hf://{evil}"
    assert "predeploy.io/thread-id" not in isvc.body["metadata"]["labels"]  # not a valid label value
    assert validate_name(rendered.name) == rendered.name


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return {str(k) for k in node} | set().union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node)) if node else set()
    return set()


@pytest.mark.parametrize("namespace", ["Team-A", "team a", "team-a\n  evil: true", "", "-x", "a" * 64])
def test_bad_namespaces_are_rejected(namespace: str) -> None:
    with pytest.raises(InvalidNameError, match="namespace"):
        render(
            make_plan(),
            option_rank=1,
            gpu=gpu_by_id("H100-SXM"),
            settings=RenderSettings(namespace=namespace),
        )


@pytest.mark.parametrize("name", ["Chat", "chat bot", "1chat", "chat-", 'x"y', "a" * (MAX_NAME_CHARS + 1)])
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidNameError):
        render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings(name=name))


@pytest.mark.parametrize(
    ("model_id", "gpu_id", "tp", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "H100-SXM", 1, "llama-3-1-8b-instruct-h100-sxm-tp1"),
        ("Qwen/Qwen2.5-7B-Instruct", "L40S", 2, "qwen2-5-7b-instruct-l40s-tp2"),
        ("01-ai/Yi-1.5-9B", "A10G", 1, "yi-1-5-9b-a10g-tp1"),
        ("x/3B", "L4", 1, "m-3b-l4-tp1"),
        ("/", "", 1, "model-gpu-tp1"),
    ],
)
def test_derived_names(model_id: str, gpu_id: str, tp: int, expected: str) -> None:
    assert derive_name(model_id, gpu_id, tp) == expected


def test_long_derived_names_are_cut_with_a_hash() -> None:
    a = derive_name("org/" + "very-long-model-name-" * 4 + "a", "H100-SXM", 8)
    b = derive_name("org/" + "very-long-model-name-" * 4 + "b", "H100-SXM", 8)
    assert len(a) <= MAX_NAME_CHARS and len(b) <= MAX_NAME_CHARS and a != b
    assert validate_name(a) == a


def test_templates_hold_no_numbers() -> None:
    for path in TEMPLATES.glob("*.j2"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if "apiVersion" in line or line.strip().startswith("{#"):
                continue
            assert not re.search(r':\s*"?[0-9.]+"?\s*$', line), f"{path.name}:{lineno} hard-codes a number"
            assert not re.search(r"\{\{[^}]*[-+*/%][^}]*\}\}", line.replace("-}}", "}}")), (
                f"{path.name}:{lineno}"
            )


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        (RenderSettings(vllm_image="vllm/vllm-openai:latest"), "is not pinned"),
        (RenderSettings(vllm_image="vllm/vllm-openai"), "is not pinned"),
        (RenderSettings(simulator_image="registry:5000/predeploy"), "is not pinned"),
        (RenderSettings(vllm_image='x:1"\n  evil: true'), "is not pinned"),
        (RenderSettings(storage_uri="ftp://models/llama"), "no known scheme"),
        (RenderSettings(hf_token_secret="HF Token"), "not a valid Kubernetes Secret name"),
        (RenderSettings(hf_token_key="a key"), "not a valid Secret key"),
        (RenderSettings(cpu_per_gpu=0), "cpu_per_gpu=0 must be at least 1"),
        (RenderSettings(startup_timeout_s=5), "under 30 s"),
    ],
)
def test_settings_a_reviewer_would_refuse(settings: RenderSettings, needle: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(needle)):
        render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=settings)


@pytest.mark.parametrize(
    "image",
    [
        "vllm/vllm-openai:v0.33.0",
        "registry.example.com:5000/team/vllm:0.33.0-cu128",
        "vllm/vllm-openai@sha256:" + "a" * 64,
    ],
)
def test_pinned_images_are_accepted(image: str) -> None:
    rendered = render(
        make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings(vllm_image=image)
    )
    assert rendered.manifests[0].body["spec"]["containers"][0]["image"] == image


def test_amd_gpus_get_vllms_rocm_image_unless_an_image_is_given() -> None:
    """vLLM's CUDA image cannot drive an MI300X: AMD GPUs get vllm/vllm-openai-rocm, same version."""
    opt = option_dict(gpu_type="MI300X")

    def image(gpu_id: str, **settings: Any) -> str:
        plan = make_plan(opt if gpu_id == "MI300X" else option_dict())
        rendered = render(plan, option_rank=1, gpu=gpu_by_id(gpu_id), settings=RenderSettings(**settings))
        return str(rendered.manifests[0].body["spec"]["containers"][0]["image"])

    assert image("MI300X") == "vllm/vllm-openai-rocm:v0.33.0"
    assert image("H100-SXM") == "vllm/vllm-openai:v0.33.0"
    assert (
        image("MI300X", vllm_image="registry.example.com/vllm-rocm:0.33.0")
        == "registry.example.com/vllm-rocm:0.33.0"
    )


def test_an_int4_option_loads_its_quantized_checkpoint_not_the_base_model() -> None:
    """vLLM cannot quantize to AWQ/GPTQ while loading: an int4 option names the repository whose weights
    are already 4-bit, and the checkpoint's own quantization config (no --quantization) decides."""
    opt = option_dict(
        precision="int4", serving={"checkpoint": "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"}
    )

    def predictor(**settings: Any) -> dict[str, Any]:
        rendered = render(
            make_plan(opt), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings(**settings)
        )
        isvc = next(m for m in rendered.manifests if m.info.kind == "InferenceService")
        assert isvc.body["metadata"]["annotations"]["predeploy.io/checkpoint"].endswith("quantized.w4a16")
        return dict(isvc.body["spec"]["predictor"]["model"])

    model = predictor()
    assert model["storageUri"] == "hf://RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"
    assert not [a for a in model["args"] if a.startswith("--quantization")]
    assert predictor(storage_uri="pvc://models/llama-8b-w4a16")["storageUri"] == "pvc://models/llama-8b-w4a16"


def test_a_model_that_loads_with_its_own_code_gets_trust_remote_code_and_others_do_not() -> None:
    def args(**serving: Any) -> list[str]:
        plan = make_plan(option_dict(serving=serving))
        rendered = render(plan, option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings())
        isvc = next(m for m in rendered.manifests if m.info.kind == "InferenceService")
        return list(isvc.body["spec"]["predictor"]["model"]["args"])

    assert "--trust-remote-code" in args(trust_remote_code=True)
    assert "--trust-remote-code" not in args()
