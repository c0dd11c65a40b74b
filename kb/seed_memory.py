"""Parse the vLLM start-up memory measurements (compass vllm_memory_h100_v0.19.0) into planner types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.csv_cells import Cells, number_or_text, read_csv
from planner.types import MemoryMeasurement

MEMORY_SOURCE = (
    "github:llm-d-incubation/llm-d-planner accuracy/results/v0.19.0/results_raw.csv"
    " @56dc5b76ca535960998bdf9fd4a3077d98fdf60a row {id}"
)


def _none_text(value: str | None) -> str | None:
    return None if value in (None, "None") else value


def parse_memory(
    raw: Path, predicted: Path | None, *, label: str
) -> list[tuple[str, MemoryMeasurement, dict[str, Any]]]:
    """(row id, measurement, raw columns) for each vLLM start-up; architecture facts from `predicted`."""
    arch: dict[tuple[str, str], dict[str, str]] = {}
    if predicted is not None and predicted.exists():
        # The upstream file ends with the script's log output; only full rows are data.
        for _, p in read_csv(predicted, label=str(predicted), skip_ragged=True):
            arch.setdefault((p["model"], p["kv_cache_dtype"]), p)
            arch.setdefault((p["model"], "*"), p)
    out = []
    for index, row in read_csv(raw, label=label):
        c = Cells(row, file=label, row_id=row.get("log_file") or str(index))
        row_id, status = c.required("log_file"), c.required("status")
        # Some failed start-ups died before logging the model: keep them, with the model unknown.
        model = c.text("model") or "" if status == "failed" else c.required("model")
        a = arch.get((model, row.get("kv_cache_dtype", "")), arch.get((model, "*"), {}))
        ac = Cells(a, file=label, row_id=row_id) if a else None
        m = MemoryMeasurement(
            model=model,
            gpu=c.required("gpu"),
            tensor_parallel=c.whole("tp") or 1,
            pipeline_parallel=c.whole("pp") or 1,
            data_parallel=c.whole("dp") or 1,
            max_model_len=c.whole("max_model_len") or 0,
            dtype=(c.text("dtype") or "").removeprefix("torch."),
            quantization=_none_text(c.text("quantization")),
            kv_cache_dtype=c.text("kv_cache_dtype") or "auto",
            gpu_memory_utilization=c.number("gpu_memory_utilization") or 0.0,
            status=status,
            weights_gib=c.number("weights_memory_gib") or c.number("weight_memory_gib"),
            activation_gib=c.number("activation_memory_gib"),
            non_torch_gib=c.number("non_torch_forward_gib"),
            cuda_graph_gib=c.number("cuda_graph_actual_gib") or c.number("cuda_graph_estimated_gib"),
            kv_cache_gib=c.number("kv_cache_memory_gib"),
            kv_cache_tokens=c.whole("kv_cache_tokens"),
            max_concurrency=c.number("max_concurrency"),
            architecture=ac.text("architecture") if ac else None,
            num_layers=ac.whole("num_hidden_layers") if ac else None,
            num_kv_heads=ac.whole("num_kv_heads") if ac else None,
            head_dim=ac.whole("head_dimension") if ac else None,
            kv_bytes_per_token=ac.whole("per_token_kv_bytes") if ac else None,
            source=MEMORY_SOURCE.format(id=row_id),
        )
        out.append((row_id, m, {k: number_or_text(v) for k, v in row.items() if v}))
    return out
