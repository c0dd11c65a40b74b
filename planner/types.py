"""Value types shared by the whole system: catalog entities, workloads and predictions.

Frozen dataclasses, units in the field names. The knowledge base (kb/) returns these; the
performance model, the capacity search, the bot and the deploy renderer consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Precision(StrEnum):
    """Weight precision of a deployment (KV cache follows it unless said otherwise)."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"


PRECISION_BYTES: dict[Precision, float] = {
    Precision.BF16: 2.0,
    Precision.FP16: 2.0,
    Precision.FP8: 1.0,
    Precision.INT8: 1.0,
    Precision.INT4: 0.5,
}


class Engine(StrEnum):
    """Serving engine the prediction is for."""

    VLLM = "vllm"
    TENSORRT_LLM = "tensorrt-llm"
    SGLANG = "sglang"
    TGI = "tgi"


class AttentionKind(StrEnum):
    """How the KV cache is laid out."""

    MHA = "mha"
    GQA = "gqa"
    MLA = "mla"


class InterconnectKind(StrEnum):
    """GPU-to-GPU link used by tensor-parallel all-reduce."""

    NVLINK = "nvlink"
    INFINITY_FABRIC = "infinity_fabric"
    PCIE = "pcie"


class ArrivalKind(StrEnum):
    """How requests arrive at the deployment."""

    POISSON = "poisson"
    CONSTANT = "constant"
    CLOSED_LOOP = "closed_loop"
    MAX_THROUGHPUT = "max_throughput"


@dataclass(frozen=True)
class QualityScore:
    """One published benchmark score of a model, with where it was published."""

    benchmark: str
    score: float
    source: str


@dataclass(frozen=True)
class ModelSpec:
    """A catalog model: architecture facts from its config.json plus catalog metadata."""

    id: str  # Hugging Face id, e.g. "meta-llama/Llama-3.1-8B-Instruct"
    name: str
    family: str
    params_total_b: float  # billions of parameters held in memory
    params_active_b: float  # billions computed per token (== total for dense models)
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_context_tokens: int
    license: str
    source: str
    attention: AttentionKind = AttentionKind.GQA
    num_experts: int = 0  # 0 for dense models
    num_experts_active: int = 0
    kv_lora_rank: int = 0  # MLA only
    qk_rope_head_dim: int = 0  # MLA only
    tasks: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    use_cases: tuple[str, ...] = ()
    precisions: tuple[Precision, ...] = (Precision.BF16,)
    approved_for_production: bool = False
    quality: tuple[QualityScore, ...] = ()
    quality_tier: str = ""
    aliases: tuple[str, ...] = ()
    sliding_window: int | None = None  # tokens; None when every layer attends to the full context
    # layers with softmax attention (a KV cache growing with every token, quadratic prefill); the rest
    # of a hybrid are linear-attention / state-space layers with a fixed-size state. None: all layers
    attention_layers: int | None = None
    sliding_window_layers: int = 0  # of the attention layers, those that attend within sliding_window
    # a hybrid's fixed per-sequence state, in elements summed over its non-attention layers (Gated
    # DeltaNet: value heads x key dim x value dim, plus the convolution window); sharded over TP
    state_elements_per_seq: int = 0
    # its 4-bit checkpoint stores integers (INT4 QAT, AWQ, GPTQ): every GPU dequantizes them to 16 bit;
    # False: an FP4 format (NVFP4, MXFP4) that Blackwell's FP4 tensor cores compute in directly
    int4_integer: bool = False
    # Seed keys with no field (license_type, license_url, commercial_use, release_date, notes).
    details: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def native_precision(self) -> Precision:
        """The precision its own repository ships (a `checkpoints` entry naming the model itself, as
        DeepSeek's FP8 or gpt-oss's MXFP4); BF16 when none does."""
        return next((p for p in Precision if self.checkpoint(p) == self.id), Precision.BF16)

    def checkpoint(self, precision: Precision) -> str | None:
        """The Hugging Face repository whose weights are already at `precision` (an AWQ/GPTQ/W4A16
        or W8A8 quantization, or the base itself when it ships that way, as gpt-oss's MXFP4), from the
        catalog's `checkpoints`; None when the catalog lists none."""
        table = self.details.get("checkpoints")
        repo = table.get(precision.value) if isinstance(table, dict) else None
        return repo if isinstance(repo, str) and repo else None

    @property
    def kv_layers(self) -> int:
        """Layers that keep a per-token KV cache (all of them unless the model is a hybrid)."""
        return self.attention_layers or self.num_layers


@dataclass(frozen=True)
class GpuSpec:
    """A GPU type: datasheet figures and how Kubernetes names it."""

    id: str  # canonical id, e.g. "H100-SXM"
    name: str
    vendor: str  # "nvidia" | "amd"
    architecture: str
    memory_gib: float
    memory_bandwidth_gb_s: float
    bf16_tflops: float  # dense
    fp8_tflops: float  # dense; 0 when the GPU has no FP8 tensor cores
    int8_tops: float
    interconnect: InterconnectKind
    interconnect_gb_s: float  # per GPU, per direction
    gpus_per_node: int
    max_tensor_parallel: int
    node_label: str  # value of the GPU product node label
    resource_name: str  # "nvidia.com/gpu" | "amd.com/gpu"
    source: str
    aliases: tuple[str, ...] = ()
    available: bool = True
    compute_capability: str = ""  # CUDA compute capability ("9.0"); "" for AMD
    details: dict[str, object] = field(default_factory=dict, compare=False)  # seed keys with no field


@dataclass(frozen=True)
class GpuPrice:
    """On-demand price of one GPU at one provider."""

    gpu_id: str
    provider: str
    instance_type: str
    gpus_per_instance: int
    hourly_usd_per_gpu: float
    region: str
    effective_date: str  # ISO date
    source: str

    @property
    def monthly_usd_per_gpu(self) -> float:
        return self.hourly_usd_per_gpu * HOURS_PER_MONTH


HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class TrafficDefaults:
    """Traffic shape of a use case: token lengths and how users turn into requests."""

    input_tokens_mean: int
    input_tokens_std: int
    output_tokens_mean: int
    output_tokens_std: int
    requests_per_active_user_per_min: float
    active_fraction: float  # share of users active at a given moment
    peak_factor: float  # peak QPS / mean QPS
    prefix_tokens: int = 0  # shared system prompt / template prefix


@dataclass(frozen=True)
class SloTargets:
    """Latency targets at one percentile."""

    ttft_ms: float
    itl_ms: float  # TPOT/ITL target
    e2e_ms: float
    percentile: str = "p95"  # "p50" | "p90" | "p95" | "p99"


@dataclass(frozen=True)
class SloTemplate:
    """Defaults for one use case."""

    use_case: str
    description: str
    slo: SloTargets
    rationale: str
    traffic: TrafficDefaults
    experience_class: str  # "instant" | "conversational" | "interactive" | "deferred" | "batch"
    recommended_model_characteristics: dict[str, object] = field(default_factory=dict)
    source: str = ""
    keywords: tuple[str, ...] = ()  # words that point a description at this use case
    rationale_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenchmarkRow:
    """One published or measured serving benchmark, normalised across sources."""

    id: str
    source_set: str  # "serving_benchmarks" | "aiconfigurator_measured"
    scenario: str  # online_serving | offline_max_throughput | closed_loop | static_batch_latency | ...
    model: str  # as published
    model_id: str | None  # catalog id when it maps to one
    gpu: str  # as published
    gpu_id: str | None  # canonical GPU id when it maps to one
    gpu_count: int
    tensor_parallel: int | None
    precision: str | None
    engine: str
    engine_version: str | None
    input_tokens: int | None
    output_tokens: int | None
    concurrency: float | None
    request_rate: float | None  # None when not a rate run; math.inf for "infinite rate"
    ttft_ms_mean: float | None = None
    ttft_ms_p50: float | None = None
    ttft_ms_p99: float | None = None
    tpot_ms_mean: float | None = None
    tpot_ms_p50: float | None = None
    itl_ms_mean: float | None = None
    e2e_ms_mean: float | None = None
    output_tokens_per_s: float | None = None
    total_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    source: str = ""
    notes: str = ""
    extra: dict[str, object] = field(default_factory=dict)  # source-specific columns kept verbatim


@dataclass(frozen=True)
class MemoryMeasurement:
    """One vLLM start-up memory measurement (compass/vllm_memory_h100_v0.19.0)."""

    model: str
    gpu: str
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    max_model_len: int
    dtype: str
    quantization: str | None
    kv_cache_dtype: str
    gpu_memory_utilization: float
    status: str  # "ok" | "failed"
    weights_gib: float | None
    activation_gib: float | None
    non_torch_gib: float | None
    cuda_graph_gib: float | None
    kv_cache_gib: float | None
    kv_cache_tokens: int | None
    max_concurrency: float | None
    architecture: str | None
    num_layers: int | None
    num_kv_heads: int | None
    head_dim: int | None
    kv_bytes_per_token: int | None
    source: str = ""


@dataclass(frozen=True)
class DeploymentOutcome:
    """What a deployment did in production, next to what was predicted (the seed's deployment_outcomes)."""

    deployment_id: str
    model_id: str
    gpu_type: str  # canonical GPU id
    gpu_count: int
    deployed_at: datetime
    observation_period_days: int
    ttft_p90_ms: float | None = None
    tpot_p90_ms: float | None = None
    e2e_latency_p95_ms: float | None = None
    throughput_avg_rps: float | None = None
    cost_per_hour_usd: float | None = None
    slo_compliance: dict[str, object] = field(default_factory=dict, compare=False)
    traffic_observed: dict[str, object] = field(default_factory=dict, compare=False)
    predicted: dict[str, object] = field(default_factory=dict, compare=False)
    template_id: str | None = None
    plan_id: int | None = None
