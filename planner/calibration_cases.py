"""Turn knowledge-base rows into comparable cases for the fit and the validation (pure).

A case is one benchmark row the model can answer: its model and GPU are in the catalog, its
scenario is comparable (max throughput, rate or closed-loop serving; aggregated, not
disaggregated; not marked work-in-progress), and it carries at least one metric we predict.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from planner.catalog import Catalog
from planner.perf_model import HardwareCosts, hardware_costs
from planner.perf_params import PerfParams
from planner.serving import CLOSED_LOOP, MAX_THROUGHPUT, RATE
from planner.types import BenchmarkRow, Engine, GpuSpec, MemoryMeasurement, ModelSpec, Precision

METRICS = ("max_throughput_tok_s", "ttft_ms", "itl_tpot_ms", "e2e_ms")


@dataclass(frozen=True)
class Case:
    """One benchmark row in the form the vectorised model evaluates."""

    row_id: str
    source: str
    gpu_id: str
    family: str
    engine: str
    model_id: str
    hw: HardwareCosts
    model: ModelSpec
    gpu: GpuSpec
    tp: int
    precision: Precision
    replicas: int
    input_tokens: float
    output_tokens: float
    mode: int
    load: float  # concurrency or requests/s for the whole group; ignored at max throughput
    measured: dict[str, float]


def row_precision(text: str | None) -> Precision | None:
    """Map a published precision ('fp8', 'FP16', 'fp4', '' = engine default bf16) to ours."""
    key = (text or "bf16").strip().lower()
    if key in ("fp4", "nvfp4", "mxfp4", "int4", "w4a16"):
        return Precision.INT4
    try:
        return Precision(key)
    except ValueError:
        return None


def fp4_weights(row: BenchmarkRow) -> bool:
    """Whether a row's 4-bit weights are in an FP4 format (NVFP4/MXFP4) rather than integers: AIConfigurator
    states its GEMM quantization (`int4_wo`: integer weight-only, as Kimi-K2.5's native INT4), others
    the precision ('fp4' vs 'int4'/'w4a16')."""
    mode = str(row.extra.get("gemm_quant_mode") or "").lower()
    if mode:
        return "fp4" in mode
    return (row.precision or "").strip().lower() not in ("int4", "w4a16")


def _extra_int(row: BenchmarkRow, key: str) -> int:
    value = row.extra.get(key)
    return int(value) if isinstance(value, int | float) and value else 1


def _skip_reason(row: BenchmarkRow) -> str | None:
    if row.extra.get("mode") == "disagg":
        return "disaggregated serving"
    if row.extra.get("wip") is True or "wip=True" in row.notes:
        return "work in progress"
    if row.scenario not in ("offline_max_throughput", "online_serving", "closed_loop"):
        return f"scenario {row.scenario}"
    if not row.input_tokens or not row.output_tokens:
        return "no token lengths"
    if _extra_int(row, "pp_size") > 1:
        return "pipeline parallel"
    return None


def _mode(row: BenchmarkRow) -> tuple[int, float] | None:
    if row.scenario == "offline_max_throughput":
        return MAX_THROUGHPUT, 0.0
    if row.scenario == "closed_loop" and row.concurrency:
        return CLOSED_LOOP, float(row.concurrency)
    if row.request_rate is not None and math.isinf(row.request_rate):
        return MAX_THROUGHPUT, 0.0
    if row.request_rate:
        return RATE, float(row.request_rate)
    if row.concurrency:
        return CLOSED_LOOP, float(row.concurrency)
    return None


def _measured(row: BenchmarkRow, mode: int) -> dict[str, float]:
    """The row's comparable metrics.

    A rate run whose server fell behind (it served < 85% of the offered rate, or the rate was
    infinite) ran with a growing queue at whatever maximum batch its server was configured with,
    which the source does not state: only its throughput is comparable, not TTFT, ITL or e2e.
    """
    out: dict[str, float] = {}
    if mode == MAX_THROUGHPUT and row.output_tokens_per_s:
        out["max_throughput_tok_s"] = row.output_tokens_per_s
    burst = row.request_rate is not None and math.isinf(row.request_rate)
    behind = bool(row.request_rate and row.requests_per_s and row.requests_per_s < 0.85 * row.request_rate)
    if burst or behind:
        return out
    itl = row.itl_ms_mean or row.tpot_ms_mean
    if itl and "look anomalous in the source" not in row.notes:  # flagged when the table was copied
        out["itl_tpot_ms"] = itl
    if row.ttft_ms_mean:
        out["ttft_ms"] = row.ttft_ms_mean
    if row.e2e_ms_mean and mode != MAX_THROUGHPUT:
        out["e2e_ms"] = row.e2e_ms_mean
    elif row.ttft_ms_mean and itl and row.output_tokens:
        out["e2e_ms"] = row.ttft_ms_mean + (row.output_tokens - 1) * itl  # derived from the row's means
    return out


def case_from_row(row: BenchmarkRow, catalog: Catalog, params: PerfParams) -> Case | str:
    """Return the case of a row, or why the row cannot be compared."""
    reason = _skip_reason(row)
    if reason:
        return reason
    model = catalog.find_model(row.model_id or row.model)
    gpu = catalog.find_gpu(row.gpu_id or row.gpu)
    if model is None or gpu is None:
        return "model or GPU not in the catalog"
    precision = row_precision(row.precision)
    mode_load = _mode(row)
    if precision is None or mode_load is None:
        return "precision or load not stated"
    mode, load = mode_load
    measured = _measured(row, mode)
    if not measured:
        return "no metric to compare"
    gpus = max(row.gpu_count, 1)
    tp = row.tensor_parallel or gpus
    moe_gpus = _extra_int(row, "moe_ep_size") * _extra_int(row, "moe_tp_size")
    if _extra_int(row, "attention_dp_size") > 1 or moe_gpus > tp:
        tp = gpus  # expert/attention-data parallel over all GPUs: treat as one replica over every GPU
    if tp > max(gpu.gpus_per_node, gpu.max_tensor_parallel):
        return "multi-node deployment (more GPUs than one NVLink domain)"
    replicas = max(gpus // tp, 1)
    engine = Engine(row.engine)
    hw = hardware_costs(
        model, gpu, tp=tp, precision=precision, engine=engine, params=params, fp4_weights=fp4_weights(row)
    )
    return Case(
        row_id=row.id,
        source=row.source_set,
        gpu_id=gpu.id,
        family=hw.family,
        engine=engine.value,
        model_id=model.id,
        hw=hw,
        model=model,
        gpu=gpu,
        tp=tp,
        precision=precision,
        replicas=replicas,
        input_tokens=float(row.input_tokens or 0),
        output_tokens=float(row.output_tokens or 0),
        mode=mode,
        load=load,
        measured=measured,
    )


@dataclass(frozen=True)
class MemoryCase:
    """One vLLM start-up measurement the memory model can answer."""

    label: str
    model: ModelSpec
    tp: int
    precision: Precision
    kv_dtype_bytes: float
    max_model_len: int
    gpu_memory_utilization: float
    measured_kv_tokens: int


_QUANT = (
    (re.compile(r"w4a16|gptq|awq|mxfp4|int4", re.I), Precision.INT4),
    (re.compile(r"fp8|w8a8|int8|compressed", re.I), Precision.FP8),
)


def memory_case(m: MemoryMeasurement, catalog: Catalog) -> MemoryCase | None:
    """Return the case of an ok, single-stage start-up whose model is in the catalog, else None."""
    if m.status != "ok" or not m.kv_cache_tokens or m.pipeline_parallel > 1 or m.data_parallel > 1:
        return None
    if "float32" in m.dtype:
        return None  # an fp32 start-up: not a precision we deploy
    model = catalog.find_model(m.model)
    if model is None:
        return None
    precision = Precision.BF16
    hint = f"{m.quantization or ''} {m.model}"
    for pattern, found in _QUANT:
        if m.quantization and pattern.search(hint):
            precision = found
            break
    return MemoryCase(
        label=f"{m.model} tp{m.tensor_parallel} len{m.max_model_len} {m.quantization or ''} "
        f"kv={m.kv_cache_dtype}",
        model=model,
        tp=m.tensor_parallel,
        precision=precision,
        kv_dtype_bytes=1.0 if m.kv_cache_dtype.startswith("fp8") else 2.0,
        max_model_len=m.max_model_len,
        gpu_memory_utilization=m.gpu_memory_utilization,
        measured_kv_tokens=m.kv_cache_tokens,
    )
