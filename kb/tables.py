"""The knowledge base's tables: the seed's entities plus the state of each conversation thread.

Seed entities keep the seed's field names (model_catalog.context_window, cost_data.hourly_rate_usd,
model_benchmarks.ttft_p50_ms, ...) and add what the performance model needs (architecture facts,
datasheet figures). Where the seed's name hides a unit it is spelled out: the seed's
`memory_bandwidth_gbps` is `memory_bandwidth_gb_s` (GB/s, not Gbit/s). Every seeded row has a
`source`; keys of the seed files that no column holds are kept verbatim in a `details` JSON column.

Only portable types (String, Text, Integer, Float, Boolean, Date, DateTime, JSON): the same
metadata runs on SQLite and PostgreSQL. Migrations in kb/migrations/ are written from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from kb.table_base import Base, Json, now_column
from kb.thread_tables import Approval, Choice, Job, PlanRow, SpecVersion, Thread, ThreadMessage

# --- seeded catalog -----------------------------------------------------------------------------


class ModelCatalog(Base):
    __tablename__ = "model_catalog"

    model_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    model_family: Mapped[str]
    size_parameters: Mapped[str]  # "8B", "46.7B (12.9B active)"
    context_window: Mapped[int]  # tokens
    supported_tasks: Mapped[list[Any]]
    subject_matter_domains: Mapped[list[Any]]
    use_cases: Mapped[list[Any]]
    quality_tier: Mapped[str]
    license: Mapped[str]
    approved_for_production: Mapped[bool]
    minimum_vram_gb: Mapped[int]  # weights at the smallest supported precision, GiB rounded up
    supports_quantization: Mapped[bool]
    params_total_b: Mapped[float]
    params_active_b: Mapped[float]
    num_layers: Mapped[int]
    hidden_size: Mapped[int]
    num_attention_heads: Mapped[int]
    num_kv_heads: Mapped[int]
    head_dim: Mapped[int]
    intermediate_size: Mapped[int]
    vocab_size: Mapped[int]
    attention: Mapped[str]
    num_experts: Mapped[int]
    num_experts_active: Mapped[int]
    kv_lora_rank: Mapped[int]
    qk_rope_head_dim: Mapped[int]
    sliding_window: Mapped[int | None]
    precisions: Mapped[list[Any]]
    quality: Mapped[list[Any]]  # [{benchmark, score, source}]
    aliases: Mapped[list[Any]]
    source: Mapped[str] = mapped_column(Text)
    details: Mapped[Json]  # license_type, license_url, commercial_use, release_date, notes, ...
    created_at: Mapped[dt.datetime] = now_column()


class HardwareProfile(Base):
    __tablename__ = "hardware_profiles"

    gpu_type: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    vram_gb: Mapped[int]  # nominal, as marketed
    memory_gib: Mapped[float]
    tflops_fp16: Mapped[float]  # dense bf16/fp16 tensor TFLOP/s
    fp8_tflops: Mapped[float]
    int8_tops: Mapped[float]
    memory_bandwidth_gb_s: Mapped[float]
    manufacturer: Mapped[str]
    architecture: Mapped[str]
    available: Mapped[bool]
    supported_parallelism: Mapped[Json]  # {"tensor_parallel": [1, 2, 4, 8]}
    max_tensor_parallel: Mapped[int]
    interconnect: Mapped[str]
    interconnect_gb_s: Mapped[float]
    gpus_per_node: Mapped[int]
    node_label: Mapped[str]
    resource_name: Mapped[str]
    compute_capability: Mapped[str]
    aliases: Mapped[list[Any]]
    source: Mapped[str] = mapped_column(Text)
    details: Mapped[Json]
    updated_at: Mapped[dt.datetime] = now_column()


class CostData(Base):
    __tablename__ = "cost_data"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    gpu_type: Mapped[str] = mapped_column(ForeignKey("hardware_profiles.gpu_type"), index=True)
    cloud_provider: Mapped[str]
    instance_type: Mapped[str]
    gpus_per_instance: Mapped[int]
    hourly_rate_usd: Mapped[float]  # per GPU, on demand
    hourly_usd_instance: Mapped[float | None]
    monthly_rate_usd: Mapped[float]  # per GPU, 730 h
    region: Mapped[str]
    effective_date: Mapped[dt.date]
    source: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")


class UseCaseSloTemplate(Base):
    __tablename__ = "use_case_slo_templates"

    use_case: Mapped[str] = mapped_column(primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    experience_class: Mapped[str]
    default_slos: Mapped[Json]  # {ttft_ms, itl_ms, e2e_ms, percentile}
    traffic_defaults: Mapped[Json]
    recommended_model_characteristics: Mapped[Json]
    rationale: Mapped[str] = mapped_column(Text)
    rationale_sources: Mapped[list[Any]]
    keywords: Mapped[list[Any]]
    source: Mapped[str] = mapped_column(Text)
    details: Mapped[Json]
    updated_at: Mapped[dt.datetime] = now_column()


class ModelBenchmark(Base):
    """One published or measured benchmark (planner.types.BenchmarkRow); test_conditions = its extra."""

    __tablename__ = "model_benchmarks"
    __table_args__ = (Index("ix_model_benchmarks_model_gpu", "model_id", "gpu_type"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    source_set: Mapped[str] = mapped_column(index=True)
    scenario: Mapped[str]
    model: Mapped[str]  # as published
    model_id: Mapped[str | None] = mapped_column(ForeignKey("model_catalog.model_id"))
    gpu: Mapped[str]  # as published
    gpu_type: Mapped[str | None] = mapped_column(ForeignKey("hardware_profiles.gpu_type"))
    gpu_count: Mapped[int]
    tensor_parallel_degree: Mapped[int | None]
    quantization: Mapped[str | None]  # the published precision
    engine: Mapped[str]
    engine_version: Mapped[str | None]
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    concurrency: Mapped[float | None]
    request_rate: Mapped[float | None]  # requests/s; inf for "infinite rate"
    ttft_mean_ms: Mapped[float | None]
    ttft_p50_ms: Mapped[float | None]
    ttft_p90_ms: Mapped[float | None]
    ttft_p99_ms: Mapped[float | None]
    tpot_mean_ms: Mapped[float | None]
    tpot_p50_ms: Mapped[float | None]
    tpot_p90_ms: Mapped[float | None]
    tpot_p99_ms: Mapped[float | None]
    itl_mean_ms: Mapped[float | None]
    e2e_mean_ms: Mapped[float | None]
    e2e_latency_p50_ms: Mapped[float | None]
    e2e_latency_p95_ms: Mapped[float | None]
    e2e_latency_p99_ms: Mapped[float | None]
    throughput_tokens_per_sec: Mapped[float | None]  # output tokens/s of the whole GPU group
    total_tokens_per_sec: Mapped[float | None]
    throughput_requests_per_sec: Mapped[float | None]
    memory_usage_gb: Mapped[float | None]
    gpu_utilization_pct: Mapped[float | None]
    vllm_config: Mapped[Json | None]
    test_conditions: Mapped[Json]  # source-specific columns, verbatim
    source: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = now_column()


class MemoryMeasurementRow(Base):
    """One vLLM start-up memory measurement (planner.types.MemoryMeasurement)."""

    __tablename__ = "memory_measurements"

    id: Mapped[str] = mapped_column(primary_key=True)  # the run's log file name
    model: Mapped[str]
    gpu: Mapped[str]
    tensor_parallel: Mapped[int]
    pipeline_parallel: Mapped[int]
    data_parallel: Mapped[int]
    max_model_len: Mapped[int]
    dtype: Mapped[str]
    quantization: Mapped[str | None]
    kv_cache_dtype: Mapped[str]
    gpu_memory_utilization: Mapped[float]
    status: Mapped[str]
    weights_gib: Mapped[float | None]
    activation_gib: Mapped[float | None]
    non_torch_gib: Mapped[float | None]
    cuda_graph_gib: Mapped[float | None]
    kv_cache_gib: Mapped[float | None]
    kv_cache_tokens: Mapped[int | None]
    max_concurrency: Mapped[float | None]
    architecture: Mapped[str | None]
    num_layers: Mapped[int | None]
    num_kv_heads: Mapped[int | None]
    head_dim: Mapped[int | None]
    kv_bytes_per_token: Mapped[int | None]
    source: Mapped[str] = mapped_column(Text)
    details: Mapped[Json]  # every raw column


class DeploymentTemplate(Base):
    __tablename__ = "deployment_templates"

    template_id: Mapped[str] = mapped_column(primary_key=True)
    use_case: Mapped[str | None] = mapped_column(ForeignKey("use_case_slo_templates.use_case"))
    model_id: Mapped[str] = mapped_column(ForeignKey("model_catalog.model_id"))
    gpu_type: Mapped[str] = mapped_column(ForeignKey("hardware_profiles.gpu_type"))
    gpu_count: Mapped[int]
    tensor_parallel_degree: Mapped[int]
    kserve_config: Mapped[Json]
    vllm_config: Mapped[Json]
    autoscaling_config: Mapped[Json]
    created_at: Mapped[dt.datetime] = now_column()


class DeploymentOutcomeRow(Base):
    __tablename__ = "deployment_outcomes"

    deployment_id: Mapped[str] = mapped_column(primary_key=True)
    template_id: Mapped[str | None] = mapped_column(ForeignKey("deployment_templates.template_id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    model_id: Mapped[str] = mapped_column(ForeignKey("model_catalog.model_id"))
    gpu_type: Mapped[str] = mapped_column(ForeignKey("hardware_profiles.gpu_type"))
    gpu_count: Mapped[int]
    ttft_p90_ms: Mapped[float | None]
    tpot_p90_ms: Mapped[float | None]
    e2e_latency_p95_ms: Mapped[float | None]
    throughput_avg_rps: Mapped[float | None]
    cost_per_hour_usd: Mapped[float | None]
    slo_compliance: Mapped[Json]
    traffic_observed: Mapped[Json]
    predicted: Mapped[Json]
    deployed_at: Mapped[dt.datetime]
    observation_period_days: Mapped[int]


class KbMeta(Base):
    """Key/value facts about the database itself: the loaded seed's fingerprint."""

    __tablename__ = "kb_meta"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# Children before parents: the order in which a reload deletes.
SEEDED_TABLES = (
    ModelBenchmark,
    MemoryMeasurementRow,
    CostData,
    UseCaseSloTemplate,
    ModelCatalog,
    HardwareProfile,
)

__all__ = [
    "Approval",
    "Base",
    "Choice",
    "CostData",
    "DeploymentOutcomeRow",
    "DeploymentTemplate",
    "HardwareProfile",
    "Job",
    "KbMeta",
    "MemoryMeasurementRow",
    "ModelBenchmark",
    "ModelCatalog",
    "PlanRow",
    "SEEDED_TABLES",
    "SpecVersion",
    "Thread",
    "ThreadMessage",
    "UseCaseSloTemplate",
]
