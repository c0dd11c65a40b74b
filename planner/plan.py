"""The result of planning: ranked deployment options, as printed by `predeploy plan --json`.

These models are the contract between the planner and everything downstream: the CLI's JSON,
the Slack blocks, the deploy renderer (which reads PLAN.json back) and the workers.
The keys listed in the planning issue are required and must not be renamed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ACCURACY_NOTE_START = "expected error"  # opens the held-out error note, so front ends can find it in `notes`


class Predicted(BaseModel):
    """Predicted latency at the spec's percentile, and throughput, for one option."""

    model_config = ConfigDict(extra="allow")

    ttft_ms: float | None = Field(description="time to first token at the SLO percentile, ms")
    tpot_ms: float | None = Field(description="time per output token at the SLO percentile, ms")
    e2e_ms: float | None = Field(description="end-to-end latency at the SLO percentile, ms")
    throughput_rps: float = Field(description="requests/s the deployment serves at the planned load")
    max_qps: float = Field(description="highest arrival rate at which the SLO still holds, requests/s")
    percentile: str = "p95"


class ServingConfig(BaseModel):
    """vLLM engine arguments for an option; every number the manifests need comes from here."""

    model_config = ConfigDict(extra="allow")

    max_model_len: int
    gpu_memory_utilization: float = 0.9
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 8192
    kv_cache_dtype: str = "auto"
    quantization: str | None = None  # a method vLLM applies while loading (fp8); None: the checkpoint's
    # the Hugging Face repository to load when not the option's model id: weights already quantized to
    # the option's precision (AWQ, GPTQ, W4A16, W8A8), which carry their own quantization config
    checkpoint: str | None = None
    trust_remote_code: bool = False  # the repository's own code loads it (vLLM --trust-remote-code)
    enable_prefix_caching: bool = True
    enable_chunked_prefill: bool = True


class Option(BaseModel):
    """One ranked deployment option."""

    model_config = ConfigDict(extra="allow")

    rank: int
    model_id: str
    gpu_type: str
    gpu_count: int
    tensor_parallel: int
    replicas: int
    precision: str
    predicted: Predicted
    cost_per_month_usd: float
    meets_slo: bool
    pareto: bool
    score: float
    explanation: str
    provider: str | None = None
    region: str | None = None
    serving: ServingConfig | None = None
    quality: float | None = Field(default=None, description="quality for the use case, 0..1 (benchmark mean)")
    best_in: list[str] = Field(
        default_factory=list, description="views this option tops: cheapest, fastest, ..."
    )
    headroom: float | None = Field(
        default=None, description="share of each replica's SLO-bounded rate kept free"
    )
    rate_per_replica_rps: float | None = None
    within_error: list[str] = Field(
        default_factory=list,
        description="SLO metrics (TTFT, TPOT) predicted nearer the target than the model's typical error",
    )


class Infeasible(BaseModel):
    """A candidate that cannot serve the spec, and why."""

    model_config = ConfigDict(extra="allow")

    model_id: str
    gpu_type: str  # "*" when the model is ruled out whatever the GPU
    reason: str
    tensor_parallel: int | None = None
    precision: str | None = None


class PlanResult(BaseModel):
    """Everything `predeploy plan --json` prints."""

    model_config = ConfigDict(extra="allow")

    spec: dict[str, Any]
    options: list[Option]
    infeasible: list[Infeasible]
    questions: list[str]
    notes: list[str] = Field(default_factory=list, description="traffic arithmetic, headroom, what to relax")
    view: str = "balanced"
    closest: dict[str, Any] | None = Field(
        default=None, description="when no option meets the SLO: the nearest miss"
    )
    relax: str | None = Field(default=None, description="when no option meets the SLO: what to relax")
