"""vLLM command-line arguments for one option, from its ServingConfig (pure)."""

from __future__ import annotations

from deploy.errors import PlanInputError
from planner.plan import Option, ServingConfig

# Precisions vLLM loads as a dtype; the others are a quantization.
_DTYPE = {"bf16": "bfloat16", "fp16": "float16"}
# Precisions vLLM can quantize to at load time from a bf16 checkpoint, when the plan names no method.
_ONLINE_QUANTIZATION = {"fp8": "fp8"}
_KV_CACHE_DTYPES = {"auto", "fp8", "fp8_e4m3", "fp8_e5m2", "bfloat16", "float16"}


def engine_args(option: Option, serving: ServingConfig, *, served_model_name: str) -> list[str]:
    """Arguments that size the engine: TP, context, memory, batching, caching.

    Raises:
        PlanInputError: a value out of the range vLLM accepts.
    """
    _check_serving(option, serving)
    tp = option.tensor_parallel
    args = [
        f"--served-model-name={served_model_name}",
        f"--tensor-parallel-size={tp}",
        f"--max-model-len={serving.max_model_len}",
        f"--gpu-memory-utilization={serving.gpu_memory_utilization:g}",
        f"--max-num-seqs={serving.max_num_seqs}",
        f"--max-num-batched-tokens={serving.max_num_batched_tokens}",
        "--enable-chunked-prefill" if serving.enable_chunked_prefill else "--no-enable-chunked-prefill",
        "--enable-prefix-caching" if serving.enable_prefix_caching else "--no-enable-prefix-caching",
    ]
    if serving.trust_remote_code:  # the catalog says the repository's own code loads this model
        args.append("--trust-remote-code")
    if tp > 1:
        args.append("--distributed-executor-backend=mp")  # one pod, TP workers as processes (as RHOAI does)
    return args


def precision_args(option: Option, serving: ServingConfig) -> list[str]:
    """`--dtype`, `--quantization` and `--kv-cache-dtype` for the option's precision.

    int8/int4 without a quantization method rely on the checkpoint's own quantization_config.
    """
    precision = option.precision.lower()
    args: list[str] = []
    if precision in _DTYPE:
        args.append(f"--dtype={_DTYPE[precision]}")
    method = serving.quantization or _ONLINE_QUANTIZATION.get(precision)
    if method:
        args.append(f"--quantization={method}")
    if serving.kv_cache_dtype != "auto":
        args.append(f"--kv-cache-dtype={serving.kv_cache_dtype}")
    return args


def _check_serving(option: Option, serving: ServingConfig) -> None:
    problems = []
    if not 0.0 < serving.gpu_memory_utilization <= 1.0:
        problems.append(f"gpu_memory_utilization={serving.gpu_memory_utilization} (must be in (0, 1])")
    for field in ("max_model_len", "max_num_seqs", "max_num_batched_tokens"):
        value = getattr(serving, field)
        if value < 1:
            problems.append(f"{field}={value} (must be >= 1)")
    if serving.kv_cache_dtype not in _KV_CACHE_DTYPES:
        known = ", ".join(sorted(_KV_CACHE_DTYPES))
        problems.append(f"kv_cache_dtype={serving.kv_cache_dtype!r} (vLLM takes {known})")
    if serving.quantization is not None and not serving.quantization.replace("_", "").isalnum():
        problems.append(f"quantization={serving.quantization!r} (not a vLLM method name)")
    if not serving.enable_chunked_prefill and serving.max_num_batched_tokens < serving.max_model_len:
        problems.append(
            f"max_num_batched_tokens={serving.max_num_batched_tokens} < "
            f"max_model_len={serving.max_model_len} without chunked prefill (vLLM refuses to start)"
        )
    if problems:
        raise PlanInputError(
            f"option {option.rank} has serving values vLLM would reject: {'; '.join(problems)}. Re-plan."
        )
