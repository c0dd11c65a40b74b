from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kb import repository as repo
from kb.schema import ensure_ready
from planner.errors import UnknownNameError
from planner.types import AttentionKind, DeploymentOutcome, InterconnectKind, Precision

FIXTURE_DATA = Path(__file__).parent / "data"


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    ensure_ready(migrated_engine, data_dir=FIXTURE_DATA)
    with Session(migrated_engine) as s:
        yield s


def test_catalog_round_trips_the_model_file(session: Session) -> None:
    catalog = repo.load_catalog(session=session)
    source = {m["id"]: m for m in json.loads((FIXTURE_DATA / "models.json").read_text())["models"]}
    moe = catalog.model("Qwen/Qwen3-30B-A3B")
    expected = source["Qwen/Qwen3-30B-A3B"]
    assert moe.is_moe and moe.num_experts == 128 and moe.num_experts_active == 8
    assert moe.params_active_b == expected["params_active_b"] and moe.head_dim == 128
    assert moe.attention is AttentionKind.GQA and moe.precisions == (Precision.BF16, Precision.FP8)
    assert moe.max_context_tokens == expected["max_context_tokens"]
    assert moe.quality[0].benchmark == "MMLU" and moe.quality[0].source.startswith("https://")
    assert catalog.model("llama-3.1-8b").id == "meta-llama/Llama-3.1-8B-Instruct"


def test_gpu_aliases_and_unknown_names(session: Session) -> None:
    catalog = repo.load_catalog(session=session)
    h100 = (
        catalog.gpu("NVIDIA H100 80GB HBM3")
        if catalog.find_gpu("NVIDIA H100 80GB HBM3")
        else catalog.gpu("H100")
    )
    assert h100.id == "H100-SXM" and h100.interconnect is InterconnectKind.NVLINK
    with pytest.raises(UnknownNameError, match="unknown GPU 'H101'; did you mean"):
        catalog.gpu("H101")


def test_prices_and_templates(session: Session) -> None:
    prices = repo.list_prices(session=session, gpu_id="H100-SXM")
    assert [p.provider for p in prices] == ["aws", "gcp"]  # cheapest first
    assert prices[0].hourly_usd_per_gpu == pytest.approx(6.88) and prices[0].effective_date == "2026-01-01"
    template = repo.load_catalog(session=session).template("code completion")
    assert template.slo.ttft_ms == 150 and template.traffic.peak_factor == 2.0
    assert template.keywords == ("autocomplete", "ide")


def test_benchmark_filters(session: Session) -> None:
    aic = repo.list_benchmarks(session=session, source_set="aiconfigurator_measured")
    assert aic and all(b.source_set == "aiconfigurator_measured" for b in aic)
    on_h100 = repo.list_benchmarks(
        session=session, model_id="meta-llama/Llama-3.1-8B-Instruct", gpu_id="H100-SXM"
    )
    assert on_h100 and all(b.gpu_id == "H100-SXM" for b in on_h100)
    assert len(repo.list_benchmarks(session=session, limit=3)) == 3
    assert repo.benchmark_source_sets(session=session) == {
        "serving_benchmarks": 7,
        "aiconfigurator_measured": 9,
    }


def test_memory_measurements_carry_architecture_facts(session: Session) -> None:
    rows = {m.model: m for m in repo.list_memory_measurements(session=session)}
    llama = rows["codellama/CodeLlama-7b-hf"]
    assert llama.status == "ok" and llama.weights_gib == pytest.approx(12.56) and llama.dtype == "bfloat16"
    assert llama.kv_bytes_per_token == 524288 and llama.num_layers == 32
    assert rows["codellama/CodeLlama-34b-hf"].status == "failed"


def test_outcomes_round_trip(session: Session) -> None:
    at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    outcome = DeploymentOutcome(
        deployment_id="dep-1", model_id="meta-llama/Llama-3.1-8B-Instruct", gpu_type="H100-SXM", gpu_count=2,
        deployed_at=at, observation_period_days=7, ttft_p90_ms=180.0, tpot_p90_ms=22.5,
        slo_compliance={"ttft": 0.97}, traffic_observed={"qps": 3.2}, predicted={"ttft_ms": 170.0},
    )  # fmt: skip
    repo.save_outcome(session=session, outcome=outcome)
    repo.save_outcome(session=session, outcome=outcome)  # saving again replaces, not duplicates
    session.commit()
    [back] = repo.list_outcomes(session=session, model_id="meta-llama/Llama-3.1-8B-Instruct")
    assert back == outcome and back.deployed_at == at
    assert back.slo_compliance == {"ttft": 0.97} and back.predicted == {"ttft_ms": 170.0}


def test_seed_info_reports_counts(session: Session) -> None:
    info = repo.seed_info(session=session)
    assert info["counts"]["models"] == 3 and len(info["fingerprint"]) == 64
    assert info["versions"]["models.json"] == "test-1"


def test_an_outcome_must_name_catalog_ids(session: Session) -> None:
    from kb.errors import NotFoundError

    outcome = DeploymentOutcome(
        deployment_id="dep-2", model_id="acme/not-a-model", gpu_type="H100-SXM", gpu_count=1,
        deployed_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), observation_period_days=1,
    )  # fmt: skip
    with pytest.raises(NotFoundError, match="model 'acme/not-a-model' is not in the catalog"):
        repo.save_outcome(session=session, outcome=outcome)


def test_deployment_templates_round_trip(session: Session) -> None:
    from kb.errors import NotFoundError

    template = {
        "template_id": "chat-llama8b-h100", "use_case": "chatbot_conversational",
        "model_id": "meta-llama/Llama-3.1-8B-Instruct", "gpu_type": "H100-SXM", "gpu_count": 1,
        "tensor_parallel_degree": 1, "kserve_config": {"minReplicas": 1},
        "vllm_config": {"max_model_len": 8192}, "autoscaling_config": {},
    }  # fmt: skip
    repo.save_deployment_template(session=session, template=template)
    assert repo.get_deployment_template(session=session, template_id="chat-llama8b-h100") == template
    assert repo.get_deployment_template(session=session, template_id="nope") is None
    with pytest.raises(NotFoundError, match="gpu_type 'TPU' is not in the catalog"):
        repo.save_deployment_template(session=session, template={**template, "gpu_type": "TPU"})
