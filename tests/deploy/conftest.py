"""Fixtures for deploy tests: the seed GPU catalog, plan builders, the Kubernetes API stub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from kb import convert
from kb.seed import DATA_DIR, GPUS
from kb.seed_json import parse_gpu, parse_rows
from planner.plan import PlanResult
from planner.types import GpuSpec
from tests.deploy.k8s_stub import KubeStub


def seed_gpus() -> list[GpuSpec]:
    """Every GPU of the knowledge base's seed catalog (kb/data/gpus.json), parsed by kb."""
    path = DATA_DIR / GPUS
    rows = parse_rows(json.loads(path.read_text()), file=str(path), key="gpus", id_key="id", parse=parse_gpu)
    return [convert.gpu_spec(row) for row in rows]


def gpu_by_id(gpu_id: str) -> GpuSpec:
    return next(g for g in seed_gpus() if g.id == gpu_id)


def option_dict(**overrides: Any) -> dict[str, Any]:
    option: dict[str, Any] = {
        "rank": 1,
        "model_id": "meta-llama/Llama-3.1-8B-Instruct",
        "gpu_type": "H100-SXM",
        "gpu_count": 1,
        "tensor_parallel": 1,
        "replicas": 2,
        "precision": "bf16",
        "predicted": {
            "ttft_ms": 180.0,
            "tpot_ms": 14.5,
            "e2e_ms": 4200.0,
            "throughput_rps": 6.0,
            "max_qps": 9.5,
            "percentile": "p95",
        },
        "cost_per_month_usd": 5694.0,
        "meets_slo": True,
        "pareto": True,
        "score": 0.91,
        "explanation": "fits on one H100 with room for 180 concurrent sequences",
        "provider": "aws",
        "serving": {
            "max_model_len": 8192,
            "gpu_memory_utilization": 0.9,
            "max_num_seqs": 128,
            "max_num_batched_tokens": 8192,
            "kv_cache_dtype": "auto",
            "quantization": None,
            "enable_prefix_caching": True,
            "enable_chunked_prefill": True,
        },
    }
    serving = overrides.pop("serving", {})
    option.update(overrides)
    if serving is None:
        option["serving"] = None
    else:
        option["serving"].update(serving)
    return option


def make_plan(*options: dict[str, Any]) -> PlanResult:
    return PlanResult.model_validate(
        {
            "spec": {"use_case": "chatbot", "users": 500},
            "options": list(options) or [option_dict()],
            "infeasible": [],
            "questions": [],
        }
    )


@pytest.fixture
def kube() -> Iterator[tuple[KubeStub, k8s.ApiClient]]:
    stub = KubeStub()
    url = stub.start()
    api = k8s.ApiClient(k8s.Configuration(host=url))
    try:
        yield stub, api
    finally:
        api.close()
        stub.stop()
