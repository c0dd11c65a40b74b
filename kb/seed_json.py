"""Parse the JSON seed files (models, GPUs, prices, SLO templates) into table rows.

Every value is type-checked; a bad one raises SeedDataError naming the file, the row and the field.
Keys that no column holds go to the row's `details`, so nothing in the files is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from kb.errors import SeedDataError
from kb.seed_fields import Fields, row_label
from kb.tables import CostData, HardwareProfile, ModelCatalog, UseCaseSloTemplate
from planner.types import HOURS_PER_MONTH, PRECISION_BYTES, AttentionKind, InterconnectKind, Precision

T = TypeVar("T")
GIB = 2**30


def parse_rows(doc: object, *, file: str, key: str, id_key: str, parse: Callable[[Fields], T]) -> list[T]:
    """Parse doc[key] (a list of objects) with `parse`, one Fields per row."""
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise SeedDataError(file, None, key, f"expected a top-level object with a {key!r} list")
    return [parse(Fields(data, file=file, row=row_label(i, data, id_key))) for i, data in enumerate(doc[key])]


def check_unique(ids: list[str], *, file: str, field: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            raise SeedDataError(file, i, field, f"{value!r} appears twice; ids must be unique")
        seen.add(value)


def parse_model(f: Fields) -> ModelCatalog:
    total_b, active_b = f.positive("params_total_b"), f.positive("params_active_b")
    precisions = f.str_list("precisions") or ["bf16"]
    for p in precisions:
        if p not in set(Precision):
            raise f.error("precisions", f"unknown precision {p!r}; use one of {', '.join(Precision)}")
    smallest = min(PRECISION_BYTES[Precision(p)] for p in precisions)
    num_experts = f.int_("num_experts", 0, minimum=0)
    size = f"{total_b:g}B" + (f" ({active_b:g}B active)" if num_experts else "")
    quality = [_quality(f, i, q) for i, q in enumerate(f._get("quality", []))]
    sliding = f.int_("sliding_window", None, minimum=1)
    attention_layers = f.int_("attention_layers", None, minimum=1)  # hybrids only: kept in details
    windowed = f.int_("sliding_window_layers", 0, minimum=0)  # with sliding_window: kept in details
    state = f.int_("state_elements_per_seq", 0, minimum=0)  # hybrids only: kept in details
    int4_integer = f.bool_("int4_integer", False)  # kept in details
    row = ModelCatalog(
        model_id=f.str_("id"),
        name=f.str_("name"),
        model_family=f.str_("family"),
        size_parameters=size,
        context_window=f.int_("max_context_tokens", minimum=1),
        supported_tasks=f.str_list("tasks"),
        subject_matter_domains=f.str_list("domains"),
        use_cases=f.str_list("use_cases"),
        quality_tier=f.str_("quality_tier", ""),
        license=f.str_("license"),
        approved_for_production=f.bool_("approved_for_production", False),
        minimum_vram_gb=math.ceil(total_b * 1e9 * smallest / GIB),
        supports_quantization=any(PRECISION_BYTES[Precision(p)] < 2 for p in precisions),
        params_total_b=total_b,
        params_active_b=active_b,
        num_layers=f.int_("num_layers", minimum=1),
        hidden_size=f.int_("hidden_size", minimum=1),
        num_attention_heads=f.int_("num_attention_heads", minimum=1),
        num_kv_heads=f.int_("num_kv_heads", minimum=1),
        head_dim=f.int_("head_dim", minimum=1),
        intermediate_size=f.int_("intermediate_size", minimum=0),
        vocab_size=f.int_("vocab_size", minimum=1),
        attention=f.choice("attention", tuple(AttentionKind), "gqa"),
        num_experts=num_experts,
        num_experts_active=f.int_("num_experts_active", 0, minimum=0),
        kv_lora_rank=f.int_("kv_lora_rank", 0, minimum=0),
        qk_rope_head_dim=f.int_("qk_rope_head_dim", 0, minimum=0),
        sliding_window=sliding,
        precisions=precisions,
        quality=quality,
        aliases=f.str_list("aliases"),
        source=f.str_("source"),
        details={
            **f.rest(),
            **({"attention_layers": attention_layers} if attention_layers else {}),
            **({"sliding_window_layers": windowed} if windowed else {}),
            **({"state_elements_per_seq": state} if state else {}),
            **({"int4_integer": True} if int4_integer else {}),
        },
    )
    _check_model(f, row)
    return row


def _check_model(f: Fields, m: ModelCatalog) -> None:
    """Facts that contradict each other (a typo in one of them)."""
    if m.params_active_b > m.params_total_b:
        raise f.error("params_active_b", f"{m.params_active_b:g} exceeds params_total_b {m.params_total_b:g}")
    if m.num_kv_heads > m.num_attention_heads:
        raise f.error("num_kv_heads", f"{m.num_kv_heads} exceeds num_attention_heads {m.num_attention_heads}")
    if m.num_experts_active > m.num_experts:
        raise f.error("num_experts_active", f"{m.num_experts_active} exceeds num_experts {m.num_experts}")
    if m.attention == "mla" and m.kv_lora_rank == 0:
        raise f.error("kv_lora_rank", "must be set (> 0) for attention 'mla'")
    hybrid = m.details.get("attention_layers")
    if isinstance(hybrid, int) and hybrid > m.num_layers:
        raise f.error("attention_layers", f"{hybrid} exceeds num_layers {m.num_layers}")
    if not isinstance(m.details.get("trust_remote_code", False), bool):
        raise f.error("trust_remote_code", "expected true or false")
    checkpoints = m.details.get("checkpoints", {})
    if not isinstance(checkpoints, dict):
        raise f.error("checkpoints", "must be an object of precision -> Hugging Face repository")
    for precision, repo in checkpoints.items():
        if precision not in m.precisions:
            raise f.error("checkpoints", f"names {precision!r}, which is not in precisions {m.precisions}")
        if not isinstance(repo, str) or repo.count("/") != 1 or " " in repo:
            raise f.error("checkpoints", f"{precision}: {repo!r} is not a Hugging Face repository (org/name)")
    if m.details.get("int4_integer") and "int4" not in m.precisions:
        raise f.error("int4_integer", "is set but 'int4' is not in precisions")
    if m.details.get("state_elements_per_seq") and not hybrid:
        raise f.error("state_elements_per_seq", "needs attention_layers (the layers that keep a KV cache)")
    windowed = m.details.get("sliding_window_layers", 0)
    if windowed and not m.sliding_window:
        raise f.error("sliding_window_layers", "needs sliding_window (the window's length in tokens)")
    if isinstance(windowed, int) and windowed > (hybrid or m.num_layers):
        raise f.error(
            "sliding_window_layers", f"{windowed} exceeds the {hybrid or m.num_layers} attention layers"
        )


def _quality(f: Fields, index: int, item: object) -> dict[str, Any]:
    q = Fields(item, file=f.file, row=f"{f.row}, quality[{index}]")
    return {"benchmark": q.str_("benchmark"), "score": q.float_("score"), "source": q.str_("source")}


def parse_gpu(f: Fields) -> HardwareProfile:
    memory_gib = f.positive("memory_gib")
    max_tp = f.int_("max_tensor_parallel", minimum=1)
    return HardwareProfile(
        gpu_type=f.str_("id"),
        name=f.str_("name"),
        vram_gb=round(memory_gib),
        memory_gib=memory_gib,
        tflops_fp16=f.positive("bf16_tflops"),
        fp8_tflops=f.float_("fp8_tflops", 0.0, minimum=0),
        int8_tops=f.float_("int8_tops", 0.0, minimum=0),
        memory_bandwidth_gb_s=f.positive("memory_bandwidth_gb_s"),
        manufacturer=f.str_("vendor"),
        architecture=f.str_("architecture"),
        available=f.bool_("available", True),
        supported_parallelism={"tensor_parallel": [2**i for i in range(8) if 2**i <= max_tp]},
        max_tensor_parallel=max_tp,
        interconnect=f.choice("interconnect", tuple(InterconnectKind)),
        interconnect_gb_s=f.float_("interconnect_gb_s", minimum=0),
        gpus_per_node=f.int_("gpus_per_node", minimum=1),
        node_label=f.str_("node_label"),
        resource_name=f.str_("resource_name"),
        compute_capability=f.str_("compute_capability", "", non_empty=False),
        aliases=f.str_list("aliases"),
        source=f.str_("source"),
        details=f.rest(),
    )


def price_parser(gpu_ids: set[str]) -> Callable[[Fields], CostData]:
    """A row parser that also checks each price names a GPU of gpus.json."""

    def parse_price(f: Fields) -> CostData:
        gpu_id = f.str_("gpu_id")
        if gpu_id not in gpu_ids:
            raise f.error("gpu_id", f"{gpu_id!r} is not a GPU id in gpus.json ({', '.join(sorted(gpu_ids))})")
        per_instance = f.positive("hourly_usd_instance", None)
        gpus = f.int_("gpus_per_instance", minimum=1)
        per_gpu = f.positive("hourly_usd_per_gpu", None)
        if per_gpu is None and per_instance is None:
            raise f.error("hourly_usd_per_gpu", "is missing (and so is hourly_usd_instance)")
        if per_gpu is None:
            per_gpu = per_instance / gpus
        elif per_instance is not None and abs(per_instance / gpus - per_gpu) > 0.05 * per_gpu:
            raise f.error(
                "hourly_usd_per_gpu",
                f"{per_gpu:g} disagrees with hourly_usd_instance / gpus_per_instance = "
                f"{per_instance:g} / {gpus} = {per_instance / gpus:.4g}",
            )
        return CostData(
            gpu_type=gpu_id,
            cloud_provider=f.str_("provider"),
            instance_type=f.str_("instance_type"),
            gpus_per_instance=gpus,
            hourly_rate_usd=per_gpu,
            hourly_usd_instance=per_instance,
            monthly_rate_usd=per_gpu * HOURS_PER_MONTH,
            region=f.str_("region"),
            effective_date=f.iso_date("effective_date"),
            source=f.str_("source"),
            notes=f.str_("notes", "", non_empty=False),
        )

    return parse_price


def parse_template(f: Fields) -> UseCaseSloTemplate:
    slo = f.sub("slo")
    traffic = f.sub("traffic")
    default_slos = {
        "ttft_ms": slo.positive("ttft_ms"),
        "itl_ms": slo.positive("itl_ms"),
        "e2e_ms": slo.positive("e2e_ms"),
        "percentile": slo.choice("percentile", ("p50", "p90", "p95", "p99"), "p95"),
    }
    traffic_defaults = {
        "input_tokens_mean": traffic.int_("input_tokens_mean", minimum=1),
        "input_tokens_std": traffic.int_("input_tokens_std", minimum=0),
        "output_tokens_mean": traffic.int_("output_tokens_mean", minimum=1),
        "output_tokens_std": traffic.int_("output_tokens_std", minimum=0),
        "requests_per_active_user_per_min": traffic.positive("requests_per_active_user_per_min"),
        "active_fraction": traffic.positive("active_fraction"),
        "peak_factor": traffic.float_("peak_factor", minimum=1.0),
        "prefix_tokens": traffic.int_("prefix_tokens", 0, minimum=0),
    }
    if traffic_defaults["active_fraction"] > 1:
        raise traffic.error(
            "active_fraction", f"must be at most 1, got {traffic_defaults['active_fraction']}"
        )
    return UseCaseSloTemplate(
        use_case=f.str_("use_case"),
        description=f.str_("description"),
        experience_class=f.str_("experience_class"),
        default_slos=default_slos,
        traffic_defaults=traffic_defaults,
        recommended_model_characteristics=f.mapping("recommended_model_characteristics", {}),
        rationale=f.str_("rationale"),
        rationale_sources=f.str_list("rationale_sources"),
        keywords=f.str_list("keywords"),
        source=f.str_("source"),
        details=f.rest(),
    )
