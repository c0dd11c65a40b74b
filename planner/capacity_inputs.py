"""What capacity planning takes from a spec: the performance model's workload and SLO, and the GPUs
and precisions the spec allows (pure)."""

from __future__ import annotations

from planner.catalog import Catalog
from planner.perf_types import Workload
from planner.spec import DeploymentSpec
from planner.types import GpuSpec, ModelSpec, Precision, SloTargets


def workload_of(spec: DeploymentSpec) -> Workload:
    """The performance model's workload for a spec's traffic."""
    t = spec.traffic
    prefix = min(t.prefix_tokens, t.input_tokens_mean - 1)
    return Workload(
        t.input_tokens_mean, t.output_tokens_mean, t.input_tokens_std, t.output_tokens_std, prefix
    )


def slo_of(spec: DeploymentSpec) -> SloTargets:
    """The spec's SLO as the performance model takes it."""
    s = spec.slo
    return SloTargets(ttft_ms=s.ttft_ms, itl_ms=s.tpot_ms, e2e_ms=s.e2e_ms, percentile=s.percentile.value)


def gpus_for(spec: DeploymentSpec, catalog: Catalog) -> list[GpuSpec]:
    """GPU types the spec allows (only the preferred ones when any are named)."""
    return [
        g
        for g in catalog.gpus
        if g.available
        and g.id not in spec.excluded_gpu_types
        and (not spec.preferred_gpu_types or g.id in spec.preferred_gpu_types)
    ]


WEIGHTS_FROM_CHECKPOINT = (Precision.INT8, Precision.INT4)  # precisions vLLM cannot quantize to at load
SIXTEEN_BIT = (Precision.BF16, Precision.FP16)


def deployment_problem(model: ModelSpec, gpu: GpuSpec, precision: Precision) -> str | None:
    """Why vLLM cannot serve the model at this precision on this GPU (see `is_precision_allowed`),
    or None when it can."""
    checkpoint, native = model.checkpoint(precision), model.native_precision
    if native not in SIXTEEN_BIT and precision is not native and checkpoint is None:
        # a base that ships quantized (DeepSeek's FP8, gpt-oss's MXFP4) loads only as itself
        return (
            f"{model.name} ships {native.value} weights and the catalog lists no {precision.value} "
            f"checkpoint of it: vLLM serves it at {native.value} only"
        )
    if precision in WEIGHTS_FROM_CHECKPOINT and checkpoint is None:
        return (
            f"the catalog lists no {precision.value} checkpoint (AWQ, GPTQ, W4A16 or W8A8) of {model.name}: "
            f"vLLM reads {precision.value} weights only from a quantized checkpoint"
        )
    if precision in WEIGHTS_FROM_CHECKPOINT and gpu.vendor == "amd" and checkpoint != model.id:
        return f"vLLM runs no AWQ, GPTQ or W8A8 kernels on AMD GPUs: no {precision.value} on {gpu.id}"
    return None


def is_precision_allowed(spec: DeploymentSpec, model: ModelSpec, gpu: GpuSpec, precision: Precision) -> bool:
    """The pinned precision, else bf16, fp8 (on GPUs with FP8 cores) and int4 when the model offers them.

    int8 and int4 need a checkpoint quantized to them (`ModelSpec.checkpoint`): vLLM quantizes to fp8
    while loading 16-bit weights, but not to AWQ/GPTQ/W8A8, which it only reads from a checkpoint. On
    AMD GPUs vLLM runs none of AWQ, GPTQ, Marlin or INT8 W8A8 (its quantization "Supported Hardware"
    table: FP8 and GGUF only), so there int8/int4 means a base that ships low-bit itself (gpt-oss's
    MXFP4, Kimi-K2.5's INT4), which vLLM's ROCm build serves with its own kernels. A base that ships
    quantized loads only at its own precision unless the catalog lists another checkpoint: vLLM
    refuses a --quantization that differs from the checkpoint's, and cannot dequantize to 16 bit."""
    if deployment_problem(model, gpu, precision):
        return False
    if spec.precision:
        return precision is spec.precision
    if precision is Precision.FP8 and gpu.fp8_tflops <= 0:
        return False
    return precision is Precision.BF16 or precision in model.precisions
