"""The performance model's tunable parameters: efficiency factors, overheads and engine defaults.

`default_params()` holds the priors from PERF_FACTS.md (used when no calibration file exists);
`planner.calibration` fits the subset named in `FITTED` to the knowledge base's benchmark rows.
Every value is physically bounded (`BOUNDS`), so a fit cannot wander to a nonsense efficiency.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from planner.types import Engine, GpuSpec, InterconnectKind

FAMILIES = ("hopper", "ampere", "ada", "blackwell", "cdna", "other")
ENGINES = tuple(e.value for e in Engine)
LINKS = tuple(k.value for k in InterconnectKind)


def gpu_family(gpu: GpuSpec) -> str:
    """Map a GPU's architecture (or name) to one of FAMILIES."""
    text = f"{gpu.architecture} {gpu.id} {gpu.name}".lower()
    probes = (
        ("hopper", ("hopper", "h100", "h200", "h800", "gh200")),
        ("blackwell", ("blackwell", "b200", "b300", "gb200", "gb300", "b100")),
        ("ampere", ("ampere", "a100", "a10", "a40", "a30", "a6000")),
        ("ada", ("ada", "l40", "l4", "4090")),
        ("cdna", ("cdna", "mi300", "mi325", "mi250", "mi355")),
    )
    for family, words in probes:
        if any(w in text for w in words):
            return family
    return "other"


def _per(keys: tuple[str, ...], value: float, **overrides: float) -> dict[str, float]:
    out = dict.fromkeys(keys, value)
    out.update({k.replace("_", "-") if k not in keys else k: v for k, v in overrides.items()})
    return out


@dataclass(frozen=True)
class PerfParams:
    """Efficiency factors and overheads of the step-time model (see module docstring)."""

    # share of datasheet HBM bandwidth reached by weight/KV reads, per GPU family
    mbu: dict[str, float] = field(default_factory=lambda: _per(FAMILIES, 0.80))
    # share of dense tensor-core peak reached by GEMMs and attention, per GPU family
    mfu: dict[str, float] = field(default_factory=lambda: _per(FAMILIES, 0.45))
    # multiplies mbu and mfu: how much of the hardware an engine's kernels reach
    engine_speed: dict[str, float] = field(
        default_factory=lambda: _per(ENGINES, 1.0, vllm=0.92, sglang=0.95, tgi=0.85)
    )
    # scheduler/launch overhead of one engine iteration, ms
    step_overhead_ms: dict[str, float] = field(
        default_factory=lambda: _per(ENGINES, 1.5, tensorrt_llm=0.6, vllm=1.5, sglang=1.2, tgi=2.5)
    )
    # fixed per-request time outside the engine steps (HTTP, tokenizer, detokenizer), ms
    request_overhead_ms: dict[str, float] = field(
        default_factory=lambda: _per(ENGINES, 5.0, tensorrt_llm=4.0, vllm=8.0, sglang=6.0, tgi=10.0)
    )
    # latency of one all-reduce, microseconds, per interconnect
    allreduce_latency_us: dict[str, float] = field(
        default_factory=lambda: {"nvlink": 8.0, "infinity_fabric": 12.0, "pcie": 30.0}
    )
    # share of the link's bandwidth a ring all-reduce reaches, per interconnect
    allreduce_bw_eff: dict[str, float] = field(
        default_factory=lambda: {"nvlink": 0.7, "infinity_fabric": 0.6, "pcie": 0.5}
    )
    tp_loss: float = 0.05  # efficiency / (1 + tp_loss x log2 TP)
    # GEMMs of large steps (prefill chunks) run this much faster than at decode sizes, at any precision
    # (full tiles keep the tensor cores busy), half way there at 1,024 tokens; fitted (1.0: no difference)
    large_step_gemm_speed: float = 1.0
    kv_read_eff: float = 0.85  # attention kernels reach this share of the weight-read bandwidth
    # router, token permute/dispatch and combine per MoE layer per step, at top-4 routing: the work
    # scales with the experts each token visits (top-k copies permuted, k grouped-GEMM segments)
    moe_layer_overhead_us: float = 30.0
    eager_layer_us: float = 150.0  # kernel launches per layer of a step too large for CUDA graphs
    moe_compute_eff: float = 0.6  # grouped expert GEMMs reach this share of mfu
    expert_spread: float = 0.6  # distinct expert draws per routed token (routing favours popular experts)
    low_bit_compute_eff: float = 0.75  # fp8/fp4 GEMMs get ~1.5x, not 2x, over 16 bit
    fp4_eff: float = 0.75  # Blackwell FP4 GEMMs reach this share of their 2x-FP8 peak (~1.5x FP8)
    # weight-only 4-bit GEMMs (integer INT4 such as AWQ/GPTQ Marlin on any GPU, FP4 formats such as
    # MXFP4 off Blackwell) dequantize every weight to 16 bit in the inner loop, so they stream weights
    # at this share of the bandwidth 16-bit reads get
    # (a batch-1 GEMV on an A30: ~600 GB/s in W4A16 against ~750 GB/s in FP16, bytedance/decoupleQ#10).
    # The rows leave it nearly free (TensorRT-LLM's MXFP4 on H200 reads slower, vLLM's on H100 faster),
    # so the fit keeps this prior; held out, it cut the ITL error from 14.9% to 14.3% median and from
    # 41.3% to 39.9% p90 (leave one GPU out)
    w4a16_read_eff: float = 0.8
    low_bit_prefill_eff: float = 0.95  # low-bit GEMMs of large (prefill) steps reach this share of mfu
    # extra fixed TTFT of an engine's MoE serving stack of 256 experts x 60 MoE layers (in proportion)
    moe_request_overhead_ms: dict[str, float] = field(default_factory=lambda: _per(ENGINES, 20.0))
    # engine scheduling limits (vLLM: max_num_seqs / max_num_batched_tokens)
    # (TensorRT-LLM: trtllm-bench picks the batch; 512 fits its published throughput rows best of
    # 256/384/512/768/1024/2048 -- a calibrated engine setting, chosen on all rows)
    max_num_seqs: dict[str, int] = field(
        default_factory=lambda: {"vllm": 256, "tensorrt-llm": 512, "sglang": 1024, "tgi": 256}
    )
    max_num_batched_tokens: dict[str, int] = field(
        default_factory=lambda: {"vllm": 8192, "tensorrt-llm": 8192, "sglang": 8192, "tgi": 4096}
    )
    # engines that store the KV cache in fp8 when the weights are fp8 (what predeploy deploys: vLLM's
    # manifests keep its 16-bit default)
    fp8_kv_engines: tuple[str, ...] = ("tensorrt-llm",)
    # ... and in the benchmark runs the fit reads: the AIConfigurator vLLM runs of quantized models
    # held loads whose 16-bit KV cache would not fit (MiniMax-M2.5 FP8 on 2 B200s, 64 users at
    # 8,192 + 1,024 tokens: 590k tokens against 401k) with no queue in their TTFT, while its bf16
    # runs did queue where 16-bit KV said they would: those runs stored the KV cache in fp8
    benchmark_fp8_kv_engines: tuple[str, ...] = ("tensorrt-llm", "vllm")
    # engines whose scheduler runs waiting prompts as prefill-only batches ahead of any decode step
    # (SGLang's default: mixed chunks are off), so a closed loop at fixed lengths stays in waves
    prefill_first_engines: tuple[str, ...] = ("sglang",)
    block_size: int = 16
    # memory: calibrated on the vLLM v0.19.0 H100 start-up measurements
    usable_memory_fraction: float = 0.9899  # 79.19 GiB of an "80 GB" H100 are visible to CUDA
    activation_base_gib: float = 0.40
    activation_gib_per_vocab: float = 1.16e-5
    activation_moe_gib: float = 0.45
    non_torch_gib_tp1: float = 0.25
    non_torch_gib_tpn: float = 2.1
    # arrival queueing: multiplies the analytic queue wait (fitted on rate runs)
    queue_factor: float = 1.0
    # closed loops at fixed lengths: share of the other users whose prompts arrive in the same wave
    # (engines that mix prefill chunks into decode steps stagger after the benchmark's first round:
    # about 1 / rounds; prefill-first engines keep more of every round a wave), plus
    # `closed_loop_lockstep` in proportion to the share of a round one step prefills
    # (`planner.serving.wave_share`: a round inside one step stays in lockstep). The priors are
    # where the closed-loop rows put them: the share that best fits each row's TTFT falls from about
    # 0.5 (TensorRT-LLM) and 1 (SGLang) when a round fits one step to 0.1-0.15 and 0.4 when it spans
    # dozens; vLLM's rows show no lockstep (0.1-0.15 throughout)
    closed_loop_wave: dict[str, float] = field(
        default_factory=lambda: _per(ENGINES, 0.12, vllm=0.13, sglang=0.5)
    )
    closed_loop_lockstep: dict[str, float] = field(
        default_factory=lambda: _per(ENGINES, 0.3, vllm=0.0, sglang=0.5)
    )
    # decode steps between a prompt's last prefill chunk and its first token reaching the client
    # (overlap schedulers emit a step late; streaming and detokenisation add about a step more)
    first_token_steps: dict[str, float] = field(default_factory=lambda: _per(ENGINES, 1.0))
    closed_loop_overhead_ms: dict[str, float] = field(default_factory=lambda: _per(ENGINES, 30.0))
    # share of a sequence's output KV the scheduler holds for it: TensorRT-LLM's default capacity policy
    # (guaranteed no evict) reserves the whole output; vLLM and SGLang allocate blocks as tokens come
    # (and preempt when full), so a running sequence holds half its output on average
    kv_output_reserve: dict[str, float] = field(default_factory=lambda: _per(ENGINES, 0.5, tensorrt_llm=1.0))
    # KV-cache budget: share of GPU memory (vLLM, SGLang) or of memory left after weights (TensorRT-LLM)
    kv_memory_fraction: dict[str, float] = field(
        default_factory=lambda: {"vllm": 0.9, "tensorrt-llm": 0.9, "sglang": 0.85, "tgi": 0.9}
    )
    # provenance of a fitted set (empty for the priors)
    fit_info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of every field."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerfParams:
        """Build parameters from `to_dict()` output; missing keys keep their defaults."""
        base = cls()
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                continue
            default = getattr(base, name)
            value = data[name]
            if isinstance(default, dict) and name != "fit_info":
                if isinstance(value, int | float):  # a scalar from an older file: one value for every key
                    value = dict.fromkeys(default, float(value))
                kwargs[name] = {**default, **value}
            elif isinstance(default, tuple):
                kwargs[name] = tuple(value)
            else:
                kwargs[name] = value
        return replace(base, **kwargs)


def expected_error(params: PerfParams, metric: str) -> tuple[float, float] | None:
    """(median, p90) absolute % error of `metric` held out on the benchmark rows, as `predeploy
    calibrate` measured it (`planner.calibration_report.held_out_error`); None when never measured."""
    table = params.fit_info.get("held_out_error")
    s = table.get(metric) if isinstance(table, dict) else None
    if not isinstance(s, dict):
        return None
    try:
        return float(s["median_pct"]), float(s["p90_pct"])
    except (KeyError, TypeError, ValueError):
        return None


MOE_REFERENCE_EXPERT_LAYERS = 256.0 * 60.0  # routed experts x MoE layers of a DeepSeek-V3-sized stack


def request_overhead_ms(params: PerfParams, engine: str, *, expert_layers: float) -> float:
    """Fixed per-request time outside the engine steps (HTTP, tokenizer; MoE stacks add more).

    The MoE part is `moe_request_overhead_ms` for a stack of 256 routed experts x 60 MoE layers, in
    proportion to experts x MoE layers (`expert_layers`, 0 for a dense model), whatever the TP. On
    vLLM the closed-loop rows' TTFT beyond prefill grows from gpt-oss-120b (128 x 36) to MiniMax-M2.5
    (256 x 62) to Kimi-K2.5 (384 x 61) about as experts x layers does, which top-k (4, 8, 8) cannot
    follow; held out (leave-one-source-out), this scale cut the TTFT error from 39.2% to 37.7% median
    and from 115% to 108% p90 against top-k.
    """
    moe = params.moe_request_overhead_ms.get(engine, 20.0) * expert_layers / MOE_REFERENCE_EXPERT_LAYERS
    return params.request_overhead_ms.get(engine, 8.0) + moe


def as_benchmarked(params: PerfParams) -> PerfParams:
    """`params` as the benchmark runs were set up (their KV-cache dtype), to build calibration cases
    with; the fitted result keeps `params`' own deployment settings."""
    return replace(params, fp8_kv_engines=params.benchmark_fp8_kv_engines)


def default_params() -> PerfParams:
    """Return the priors from PERF_FACTS.md (no calibration applied)."""
    return PerfParams()


# (group, key) -> (low, high) bounds of every fitted parameter
BOUNDS: dict[str, tuple[float, float]] = {
    "mbu": (0.35, 0.95),
    "mfu": (0.15, 0.85),
    "engine_speed": (0.5, 1.05),
    "step_overhead_ms": (0.1, 12.0),
    "request_overhead_ms": (0.5, 60.0),
    "allreduce_latency_us": (2.0, 80.0),
    "allreduce_bw_eff": (0.1, 0.95),
    "closed_loop_wave": (0.0, 1.0),
    "closed_loop_lockstep": (0.0, 1.0),
    "first_token_steps": (0.0, 12.0),
    "closed_loop_overhead_ms": (0.0, 300.0),
    "tp_loss": (0.0, 0.6),
    "large_step_gemm_speed": (0.5, 2.5),
    "kv_read_eff": (0.3, 1.0),
    "moe_layer_overhead_us": (0.0, 400.0),
    "moe_request_overhead_ms": (0.0, 400.0),
    "moe_compute_eff": (0.1, 1.0),
    "expert_spread": (0.05, 1.0),
    "low_bit_compute_eff": (0.3, 1.0),
    "fp4_eff": (0.5, 1.0),
    "w4a16_read_eff": (0.3, 1.0),
    "low_bit_prefill_eff": (0.3, 1.0),
    "eager_layer_us": (0.0, 3000.0),
}
