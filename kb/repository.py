"""Reads of the catalog and benchmarks, and the deployment-outcome records. Returns planner types.

Every function takes the session keyword-only; none commits (the caller owns the transaction).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import convert
from kb.errors import NotFoundError
from kb.tables import (
    CostData,
    DeploymentOutcomeRow,
    DeploymentTemplate,
    HardwareProfile,
    KbMeta,
    MemoryMeasurementRow,
    ModelBenchmark,
    ModelCatalog,
    UseCaseSloTemplate,
)
from kb.timeutil import as_utc, to_db
from planner.catalog import Catalog
from planner.types import (
    BenchmarkRow,
    DeploymentOutcome,
    GpuPrice,
    GpuSpec,
    MemoryMeasurement,
    ModelSpec,
    SloTemplate,
)


def list_models(*, session: Session) -> list[ModelSpec]:
    rows = session.scalars(select(ModelCatalog).order_by(ModelCatalog.model_id))
    return [convert.model_spec(r) for r in rows]


def list_gpus(*, session: Session) -> list[GpuSpec]:
    rows = session.scalars(select(HardwareProfile).order_by(HardwareProfile.gpu_type))
    return [convert.gpu_spec(r) for r in rows]


def list_prices(*, session: Session, gpu_id: str | None = None) -> list[GpuPrice]:
    """Prices per GPU, cheapest first within each GPU."""
    query = select(CostData).order_by(CostData.gpu_type, CostData.hourly_rate_usd, CostData.id)
    if gpu_id is not None:
        query = query.where(CostData.gpu_type == gpu_id)
    return [convert.gpu_price(r) for r in session.scalars(query)]


def list_templates(*, session: Session) -> list[SloTemplate]:
    rows = session.scalars(select(UseCaseSloTemplate).order_by(UseCaseSloTemplate.use_case))
    return [convert.slo_template(r) for r in rows]


def load_catalog(*, session: Session) -> Catalog:
    """Models, GPUs, prices and use-case templates, with alias resolution."""
    return Catalog(
        models=tuple(list_models(session=session)),
        gpus=tuple(list_gpus(session=session)),
        prices=tuple(list_prices(session=session)),
        templates=tuple(list_templates(session=session)),
    )


def list_benchmarks(
    *,
    session: Session,
    source_set: str | None = None,
    model_id: str | None = None,
    gpu_id: str | None = None,
    limit: int | None = None,
) -> list[BenchmarkRow]:
    """Benchmark rows in file order (source set, then id), optionally filtered."""
    query = select(ModelBenchmark).order_by(ModelBenchmark.source_set.desc(), ModelBenchmark.id)
    if source_set is not None:
        query = query.where(ModelBenchmark.source_set == source_set)
    if model_id is not None:
        query = query.where(ModelBenchmark.model_id == model_id)
    if gpu_id is not None:
        query = query.where(ModelBenchmark.gpu_type == gpu_id)
    if limit is not None:
        query = query.limit(limit)
    return [convert.benchmark_row(r) for r in session.scalars(query)]


def benchmark_source_sets(*, session: Session) -> dict[str, int]:
    """Row count per benchmark source set."""
    query = select(ModelBenchmark.source_set, func.count()).group_by(ModelBenchmark.source_set)
    return {name: count for name, count in session.execute(query).all()}


def list_memory_measurements(*, session: Session) -> list[MemoryMeasurement]:
    rows = session.scalars(select(MemoryMeasurementRow).order_by(MemoryMeasurementRow.id))
    return [convert.memory_measurement(r) for r in rows]


def seed_info(*, session: Session) -> dict[str, Any]:
    """The loaded seed's fingerprint and row counts (empty when nothing is loaded)."""
    meta = {k: v for k, v in session.execute(select(KbMeta.key, KbMeta.value)).all()}
    if "seed_fingerprint" not in meta:
        return {}
    return {
        "fingerprint": meta["seed_fingerprint"],
        "counts": json.loads(meta.get("seed_counts", "{}")),
        "versions": json.loads(meta.get("seed_versions", "{}")),
    }


_OUTCOME_FIELDS = tuple(DeploymentOutcome.__dataclass_fields__)


def save_outcome(*, session: Session, outcome: DeploymentOutcome) -> None:
    """Insert or replace the outcome of one deployment (keyed by deployment_id).

    Raises:
        NotFoundError: the model or GPU id is not in the catalog.
    """
    where = f"outcome {outcome.deployment_id}"
    if session.get(ModelCatalog, outcome.model_id) is None:
        raise NotFoundError(f"{where}: model {outcome.model_id!r} is not in the catalog")
    if session.get(HardwareProfile, outcome.gpu_type) is None:
        raise NotFoundError(f"{where}: GPU {outcome.gpu_type!r} is not in the catalog")
    values = {name: getattr(outcome, name) for name in _OUTCOME_FIELDS}
    values["deployed_at"] = to_db(outcome.deployed_at)
    session.merge(DeploymentOutcomeRow(**values))
    session.flush()


def list_outcomes(
    *, session: Session, model_id: str | None = None, gpu_type: str | None = None
) -> list[DeploymentOutcome]:
    """Outcomes, newest deployment first."""
    row_type = DeploymentOutcomeRow
    query = select(row_type).order_by(row_type.deployed_at.desc(), row_type.deployment_id)
    if model_id is not None:
        query = query.where(DeploymentOutcomeRow.model_id == model_id)
    if gpu_type is not None:
        query = query.where(DeploymentOutcomeRow.gpu_type == gpu_type)
    out = []
    for row in session.scalars(query):
        values = {name: getattr(row, name) for name in _OUTCOME_FIELDS}
        values["deployed_at"] = as_utc(row.deployed_at)
        out.append(DeploymentOutcome(**values))
    return out


_TEMPLATE_FIELDS = (
    "template_id", "use_case", "model_id", "gpu_type", "gpu_count", "tensor_parallel_degree",
    "kserve_config", "vllm_config", "autoscaling_config",
)  # fmt: skip


def save_deployment_template(*, session: Session, template: dict[str, Any]) -> None:
    """Insert or replace a deployment template (the seed's deployment_templates; keys as its fields).

    Raises:
        NotFoundError: a key is missing, or the model, GPU or use case is not in the catalog.
    """
    missing = [k for k in _TEMPLATE_FIELDS if k not in template]
    if missing:
        raise NotFoundError(f"deployment template lacks {', '.join(missing)}")
    where = f"deployment template {template['template_id']}"
    for table, key in ((ModelCatalog, "model_id"), (HardwareProfile, "gpu_type")):
        if session.get(table, template[key]) is None:
            raise NotFoundError(f"{where}: {key} {template[key]!r} is not in the catalog")
    if template["use_case"] is not None and session.get(UseCaseSloTemplate, template["use_case"]) is None:
        raise NotFoundError(f"{where}: use case {template['use_case']!r} is not in the catalog")
    session.merge(DeploymentTemplate(**{k: template[k] for k in _TEMPLATE_FIELDS}))
    session.flush()


def get_deployment_template(*, session: Session, template_id: str) -> dict[str, Any] | None:
    row = session.get(DeploymentTemplate, template_id)
    return None if row is None else {k: getattr(row, k) for k in _TEMPLATE_FIELDS}
