"""Table rows to planner types and back. The only place that knows both shapes."""

from __future__ import annotations

from typing import Any

from kb.tables import (
    CostData,
    HardwareProfile,
    MemoryMeasurementRow,
    ModelBenchmark,
    ModelCatalog,
    UseCaseSloTemplate,
)
from planner.types import (
    AttentionKind,
    BenchmarkRow,
    GpuPrice,
    GpuSpec,
    InterconnectKind,
    MemoryMeasurement,
    ModelSpec,
    Precision,
    QualityScore,
    SloTargets,
    SloTemplate,
    TrafficDefaults,
)


def model_spec(row: ModelCatalog) -> ModelSpec:
    return ModelSpec(
        id=row.model_id,
        name=row.name,
        family=row.model_family,
        params_total_b=row.params_total_b,
        params_active_b=row.params_active_b,
        num_layers=row.num_layers,
        hidden_size=row.hidden_size,
        num_attention_heads=row.num_attention_heads,
        num_kv_heads=row.num_kv_heads,
        head_dim=row.head_dim,
        intermediate_size=row.intermediate_size,
        vocab_size=row.vocab_size,
        max_context_tokens=row.context_window,
        license=row.license,
        source=row.source,
        attention=AttentionKind(row.attention),
        num_experts=row.num_experts,
        num_experts_active=row.num_experts_active,
        kv_lora_rank=row.kv_lora_rank,
        qk_rope_head_dim=row.qk_rope_head_dim,
        tasks=tuple(row.supported_tasks),
        domains=tuple(row.subject_matter_domains),
        use_cases=tuple(row.use_cases),
        precisions=tuple(Precision(p) for p in row.precisions),
        approved_for_production=row.approved_for_production,
        quality=tuple(QualityScore(q["benchmark"], float(q["score"]), q["source"]) for q in row.quality),
        quality_tier=row.quality_tier,
        aliases=tuple(row.aliases),
        sliding_window=row.sliding_window,
        attention_layers=_whole(row.details.get("attention_layers")),
        sliding_window_layers=_whole(row.details.get("sliding_window_layers")) or 0,
        state_elements_per_seq=_whole(row.details.get("state_elements_per_seq")) or 0,
        int4_integer=row.details.get("int4_integer") is True,
        details=dict(row.details),
    )


def gpu_spec(row: HardwareProfile) -> GpuSpec:
    return GpuSpec(
        id=row.gpu_type,
        name=row.name,
        vendor=row.manufacturer,
        architecture=row.architecture,
        memory_gib=row.memory_gib,
        memory_bandwidth_gb_s=row.memory_bandwidth_gb_s,
        bf16_tflops=row.tflops_fp16,
        fp8_tflops=row.fp8_tflops,
        int8_tops=row.int8_tops,
        interconnect=InterconnectKind(row.interconnect),
        interconnect_gb_s=row.interconnect_gb_s,
        gpus_per_node=row.gpus_per_node,
        max_tensor_parallel=row.max_tensor_parallel,
        node_label=row.node_label,
        resource_name=row.resource_name,
        source=row.source,
        aliases=tuple(row.aliases),
        available=row.available,
        compute_capability=row.compute_capability,
        details=dict(row.details),
    )


def gpu_price(row: CostData) -> GpuPrice:
    return GpuPrice(
        gpu_id=row.gpu_type,
        provider=row.cloud_provider,
        instance_type=row.instance_type,
        gpus_per_instance=row.gpus_per_instance,
        hourly_usd_per_gpu=row.hourly_rate_usd,
        region=row.region,
        effective_date=row.effective_date.isoformat(),
        source=row.source,
    )


def slo_template(row: UseCaseSloTemplate) -> SloTemplate:
    slo, traffic = row.default_slos, row.traffic_defaults
    return SloTemplate(
        use_case=row.use_case,
        description=row.description,
        slo=SloTargets(
            ttft_ms=slo["ttft_ms"], itl_ms=slo["itl_ms"], e2e_ms=slo["e2e_ms"], percentile=slo["percentile"]
        ),
        rationale=row.rationale,
        traffic=TrafficDefaults(**traffic),
        experience_class=row.experience_class,
        recommended_model_characteristics=dict(row.recommended_model_characteristics),
        source=row.source,
        keywords=tuple(row.keywords),
        rationale_sources=tuple(row.rationale_sources),
    )


# BenchmarkRow field -> model_benchmarks column, where the names differ.
_BENCH_COLUMNS = {
    "gpu_id": "gpu_type",
    "tensor_parallel": "tensor_parallel_degree",
    "precision": "quantization",
    "ttft_ms_mean": "ttft_mean_ms",
    "ttft_ms_p50": "ttft_p50_ms",
    "ttft_ms_p99": "ttft_p99_ms",
    "tpot_ms_mean": "tpot_mean_ms",
    "tpot_ms_p50": "tpot_p50_ms",
    "itl_ms_mean": "itl_mean_ms",
    "e2e_ms_mean": "e2e_mean_ms",
    "output_tokens_per_s": "throughput_tokens_per_sec",
    "total_tokens_per_s": "total_tokens_per_sec",
    "requests_per_s": "throughput_requests_per_sec",
    "extra": "test_conditions",
}
_BENCH_FIELDS = tuple(BenchmarkRow.__dataclass_fields__)


def benchmark_values(b: BenchmarkRow) -> dict[str, Any]:
    """The model_benchmarks row of a BenchmarkRow, as a dict for a bulk insert."""
    return {_BENCH_COLUMNS.get(name, name): getattr(b, name) for name in _BENCH_FIELDS}


def benchmark_row(row: ModelBenchmark) -> BenchmarkRow:
    values = {name: getattr(row, _BENCH_COLUMNS.get(name, name)) for name in _BENCH_FIELDS}
    values["extra"] = dict(values["extra"] or {})
    return BenchmarkRow(**values)


_MEMORY_FIELDS = tuple(MemoryMeasurement.__dataclass_fields__)


def memory_values(m: MemoryMeasurement, *, row_id: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"id": row_id, "details": details, **{name: getattr(m, name) for name in _MEMORY_FIELDS}}


def memory_measurement(row: MemoryMeasurementRow) -> MemoryMeasurement:
    return MemoryMeasurement(**{name: getattr(row, name) for name in _MEMORY_FIELDS})


def _whole(value: Any) -> int | None:
    """A positive whole number from a details entry (JSON keeps it as int), else None."""
    return (
        int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1 else None
    )
