"""Parse the benchmark CSVs into planner types.

serving_benchmarks.csv (published rows) and the aiconfigurator silicon sample (measured rows) are
normalised to one BenchmarkRow shape; model and GPU names are mapped to catalog ids through the
catalog's alias resolution (None when the catalog has no such model or GPU). Source-specific
columns are kept verbatim in `extra`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from kb.csv_cells import Cells, number_or_text, read_csv
from kb.errors import SeedDataError
from planner.catalog import Catalog
from planner.types import BenchmarkRow, Engine

AIC_SOURCE = (
    "github:ai-dynamo/aiconfigurator aic-core/src/aiconfigurator_core/systems/silicon_sample.csv"
    " @095f58a51c4ca8e61b66ec108d86f223f8d559ce row {id}"
)
_SCENARIO = re.compile(r"^\s*scenario=([a-z_]+)")
_PUBLISHED = re.compile(r"\b([A-Z][A-Z0-9_]{5,})=([0-9.]+)")
_QUANT_SUFFIX = re.compile(r"-(FP8|NVFP4|FP4|AWQ|GPTQ|INT4|INT8|W4A16|W8A8)$", re.IGNORECASE)


def normalise_engine(name: str, *, cells: Cells, column: str) -> Engine:
    key = name.strip().lower()
    if "tensorrt" in key or key.startswith("trtllm") or key == "trt-llm":
        return Engine.TENSORRT_LLM
    for engine, prefixes in (
        (Engine.VLLM, ("vllm",)),
        (Engine.SGLANG, ("sglang",)),
        (Engine.TGI, ("tgi", "text-generation-inference")),
    ):
        if key.startswith(prefixes):
            return engine
    raise SeedDataError(
        cells.file, cells.row_id, column, f"unknown engine {name!r} (vllm, tensorrt-llm, sglang, tgi)"
    )


def map_model(catalog: Catalog, name: str) -> str | None:
    """Catalog id of a published model name: as is, without org, quantization suffix, or + '-Instruct'."""
    base = name.split("/")[-1]
    stripped = _QUANT_SUFFIX.sub("", base)
    for candidate in (name, base, stripped, f"{stripped}-Instruct"):
        found = catalog.find_model(candidate)
        if found is not None:
            return found.id
    return None


def map_gpu(catalog: Catalog, name: str) -> str | None:
    """Catalog id of a published GPU label ('H100-SXM-80GB', 'h200_sxm', 'L40S-48GB')."""
    no_memory = re.sub(r"[-_ ]?\d+\s*GB$", "", name, flags=re.IGNORECASE)
    no_form = re.sub(r"[-_ ]?(SXM\d?|PCIE)$", "", no_memory, flags=re.IGNORECASE)
    for candidate in (name, no_memory, no_form):
        found = catalog.find_gpu(candidate)
        if found is not None:
            return found.id
    return None


def _map(catalog: Catalog, model: str, gpu: str, extra: dict[str, Any]) -> tuple[str | None, str | None]:
    """Catalog ids of the published names; `extra` says when only a loosened name matched."""
    model_id, gpu_id = map_model(catalog, model), map_gpu(catalog, gpu)
    if model_id is not None and catalog.find_model(model) is None:
        extra["model_id_match"] = "loose: without org / quantization suffix, or base name + '-Instruct'"
    if gpu_id is not None and catalog.find_gpu(gpu) is None:
        extra["gpu_id_match"] = "loose: without memory size or form factor"
    return model_id, gpu_id


def parse_serving(path: Path, catalog: Catalog, *, label: str) -> list[BenchmarkRow]:
    """Rows of serving_benchmarks.csv; the scenario comes from the notes' `scenario=` tag."""
    rows: list[BenchmarkRow] = []
    for index, row in read_csv(path, label=label):
        c = Cells(row, file=label, row_id=row.get("id") or str(index))
        notes = c.text("notes") or ""
        match = _SCENARIO.match(notes)
        if match is None:
            raise SeedDataError(label, c.row_id, "notes", "does not start with 'scenario=<tag>'")
        engine_name = c.required("engine")
        extra: dict[str, Any] = {"params_b": c.number("params_b")}
        if engine_name not in set(Engine):
            extra["engine_published"] = engine_name
        extra.update({k: number_or_text(v) for k, v in _PUBLISHED.findall(notes)})
        gpu_count = c.whole("gpu_count")
        if gpu_count is None or gpu_count < 1:
            raise SeedDataError(label, c.row_id, "gpu_count", "must be a whole number of at least 1")
        model, gpu = c.required("model"), c.required("gpu")
        model_id, gpu_id = _map(catalog, model, gpu, extra)
        rows.append(
            BenchmarkRow(
                id=c.required("id"),
                source_set="serving_benchmarks",
                scenario=match.group(1),
                model=model,
                model_id=model_id,
                gpu=gpu,
                gpu_id=gpu_id,
                gpu_count=gpu_count,
                tensor_parallel=c.whole("tp"),
                precision=c.text("precision"),
                engine=normalise_engine(engine_name, cells=c, column="engine"),
                engine_version=c.text("engine_version"),
                input_tokens=c.whole("input_tokens"),
                output_tokens=c.whole("output_tokens"),
                concurrency=c.number("concurrency"),
                request_rate=c.number("request_rate", allow_inf=True),
                ttft_ms_mean=c.number("ttft_ms_mean"),
                ttft_ms_p50=c.number("ttft_ms_p50"),
                ttft_ms_p99=c.number("ttft_ms_p99"),
                tpot_ms_mean=c.number("tpot_ms_mean"),
                tpot_ms_p50=c.number("tpot_ms_p50"),
                itl_ms_mean=c.number("itl_ms_mean"),
                e2e_ms_mean=c.number("e2e_ms_mean"),
                output_tokens_per_s=c.number("output_tok_s"),
                total_tokens_per_s=c.number("total_tok_s"),
                requests_per_s=c.number("req_s"),
                source=c.required("source"),
                notes=notes,
                extra=extra,
            )
        )
    return rows


_AIC_COLUMNS = {"id", "backend", "backend_version", "model_path", "system", "precision", "isl", "osl"}
_AIC_COLUMNS |= {"tp_size", "silicon_ttft_ms", "silicon_tpot_ms", "silicon_data_source"}


def _aic_gpu_count(c: Cells, extra: dict[str, Any]) -> int | None:
    """GPUs behind one measurement: pp x the wider of the attention (tp x attention-dp) and MoE
    (moe-tp x moe-ep) groups (agg: a run whose experts span more GPUs than its attention TP, such
    as vLLM at tp 1 with moe_tp 2, ran data-parallel attention over them), summed over workers
    (disagg)."""
    if c.text("mode") != "disagg":
        attention = (c.whole("tp_size") or 1) * (c.whole("attention_dp_size") or 1)
        moe = (c.whole("moe_tp_size") or 1) * (c.whole("moe_ep_size") or 1)
        return (c.whole("pp_size") or 1) * max(attention, moe)
    total = 0
    for role in ("prefill", "decode"):
        workers = c.whole(f"{role}_num_workers")
        per_worker = [c.whole(f"{role}_{k}") for k in ("tp_size", "pp_size", "attention_dp_size")]
        if per_worker[0] is None:
            return None
        if workers is None:
            extra["gpu_count_note"] = (
                "num_workers not given: a lower bound, one prefill and one decode worker"
            )
        total += (workers or 1) * math.prod(s or 1 for s in per_worker)
    return total


def _aic_concurrency(c: Cells, provenance: str, extra: dict[str, Any]) -> float | None:
    match = re.search(r"silicon_concurrency=(\d+)", provenance)
    if match:
        return float(match.group(1))
    batch = c.whole("batch_size")
    if c.text("mode") == "agg" and batch is not None:
        extra["concurrency_from"] = (
            "batch_size x attention_dp_size (no silicon_concurrency in the provenance)"
        )
        return float(batch * (c.whole("attention_dp_size") or 1))
    return None


def parse_aiconfigurator(path: Path, catalog: Catalog, *, label: str) -> list[BenchmarkRow]:
    """Rows of the aiconfigurator silicon sample: closed-loop runs at a fixed client concurrency."""
    rows: list[BenchmarkRow] = []
    for index, row in read_csv(path, label=label):
        c = Cells(row, file=label, row_id=row.get("id") or str(index))
        row_id, provenance = c.required("id"), c.required("silicon_data_source")
        extra: dict[str, Any] = {
            k: number_or_text(v.strip()) for k, v in row.items() if k not in _AIC_COLUMNS and v.strip()
        }
        measured = re.search(r"measured=([0-9-]{10})", provenance)
        extra.update(measured=measured.group(1) if measured else None, wip="wip=True" in provenance)
        extra["statistic"] = "mean or median over requests: not documented upstream"
        gpu_count = _aic_gpu_count(c, extra)
        if gpu_count is None:
            raise SeedDataError(label, row_id, "tp_size", "cannot tell how many GPUs the run used")
        model, gpu = c.required("model_path"), c.required("system")
        model_id, gpu_id = _map(catalog, model, gpu, extra)
        rows.append(
            BenchmarkRow(
                id=row_id,
                source_set="aiconfigurator_measured",
                scenario="closed_loop",
                model=model,
                model_id=model_id,
                gpu=gpu,
                gpu_id=gpu_id,
                gpu_count=gpu_count,
                tensor_parallel=c.whole("tp_size"),
                precision=c.text("precision"),
                engine=normalise_engine(c.required("backend"), cells=c, column="backend"),
                engine_version=c.text("backend_version"),
                input_tokens=c.whole("isl"),
                output_tokens=c.whole("osl"),
                concurrency=_aic_concurrency(c, provenance, extra),
                request_rate=None,
                ttft_ms_mean=c.number("silicon_ttft_ms"),
                tpot_ms_mean=c.number("silicon_tpot_ms"),
                source=AIC_SOURCE.format(id=row_id),
                notes=provenance,
                extra=extra,
            )
        )
    return rows
