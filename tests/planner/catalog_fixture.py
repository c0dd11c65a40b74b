"""A small, realistic catalog for planner tests and the intent benchmark (no database needed).

Architecture figures are from each model's config.json; GPU figures from PERF_FACTS.md; prices are
round on-demand figures of the kind published by cloud providers (test data, not quotes).
"""

from __future__ import annotations

from planner.catalog import Catalog
from planner.types import (
    GpuPrice,
    GpuSpec,
    InterconnectKind,
    ModelSpec,
    Precision,
    QualityScore,
    SloTargets,
    SloTemplate,
    TrafficDefaults,
)

P = Precision
SRC = "test fixture"


def _model(mid: str, name: str, family: str, b: float, arch: tuple[int, ...], **kw: object) -> ModelSpec:
    layers, hidden, heads, kv, hd, inter, vocab, ctx = arch
    fields: dict[str, object] = {
        "id": mid,
        "name": name,
        "family": family,
        "params_total_b": b,
        "params_active_b": kw.pop("active_b", b),
        "num_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_kv_heads": kv,
        "head_dim": hd,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "max_context_tokens": ctx,
        "license": kw.pop("license", "llama3.1"),
        "source": SRC,
        "precisions": (P.BF16, P.FP8, P.INT4),
        "approved_for_production": True,
    }
    checkpoints = kw.pop("checkpoints", None)
    if checkpoints:  # as the shipped catalog: int4 weights from an AWQ/GPTQ/W4A16 repository
        fields["details"] = {"checkpoints": checkpoints}
        fields["int4_integer"] = True
    fields.update(kw)
    return ModelSpec(**fields)  # type: ignore[arg-type]


def _q(**scores: float) -> tuple[QualityScore, ...]:
    return tuple(QualityScore(benchmark=k, score=v, source=SRC) for k, v in scores.items())


MODELS = (
    _model(
        "meta-llama/Llama-3.1-8B-Instruct",
        "Llama 3.1 8B Instruct",
        "llama",
        8.03,
        (32, 4096, 32, 8, 128, 14336, 128256, 131072),
        tasks=("chat", "code", "summarization", "translation", "rag"),
        use_cases=("chatbot_conversational",),
        quality=_q(mmlu=69.4, humaneval=72.6, ifeval=80.4),
        quality_tier="small",
        aliases=("llama 3.1 8b", "llama3.1:8b", "llama-8b", "llama 8b", "llama3 8b", "llama 3 8b"),
        checkpoints={"int4": "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16"},
    ),
    _model(
        "meta-llama/Llama-3.1-70B-Instruct",
        "Llama 3.1 70B Instruct",
        "llama",
        70.6,
        (80, 8192, 64, 8, 128, 28672, 128256, 131072),
        tasks=("chat", "code", "summarization", "translation", "rag", "reasoning"),
        quality=_q(mmlu=83.6, humaneval=80.5, ifeval=87.5),
        quality_tier="large",
        aliases=("llama 3.1 70b", "llama-70b", "llama 70b", "llama3 70b", "llama 3 70b"),
        checkpoints={"int4": "RedHatAI/Meta-Llama-3.1-70B-Instruct-quantized.w4a16"},
    ),
    _model(
        "mistralai/Mistral-7B-Instruct-v0.3",
        "Mistral 7B Instruct v0.3",
        "mistral",
        7.25,
        (32, 4096, 32, 8, 128, 14336, 32768, 32768),
        license="apache-2.0",
        tasks=("chat", "summarization"),
        quality=_q(mmlu=62.0, humaneval=40.0, ifeval=54.0),
        quality_tier="small",
        aliases=("mistral 7b", "mistral-7b", "mistral"),
    ),
    _model(
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen2.5 7B Instruct",
        "qwen",
        7.62,
        (28, 3584, 28, 4, 128, 18944, 152064, 32768),
        license="apache-2.0",
        tasks=("chat", "code", "translation", "summarization", "rag"),
        quality=_q(mmlu=74.2, humaneval=84.8, ifeval=71.2),
        quality_tier="small",
        aliases=("qwen 2.5 7b", "qwen2.5 7b", "qwen 7b", "qwen-7b"),
        checkpoints={"int4": "Qwen/Qwen2.5-7B-Instruct-AWQ"},
    ),
    _model(
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        "Qwen2.5 Coder 32B Instruct",
        "qwen",
        32.8,
        (64, 5120, 40, 8, 128, 27648, 152064, 32768),
        license="apache-2.0",
        tasks=("code",),
        domains=("software",),
        quality=_q(mmlu=75.0, humaneval=92.7),
        quality_tier="medium",
        aliases=("qwen coder", "qwen2.5 coder", "qwen coder 32b", "qwen-coder"),
        checkpoints={"int4": "Qwen/Qwen2.5-Coder-32B-Instruct-AWQ"},
    ),
    _model(
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "Mixtral 8x7B Instruct",
        "mixtral",
        46.7,
        (32, 4096, 32, 8, 128, 14336, 32000, 32768),
        active_b=12.9,
        num_experts=8,
        num_experts_active=2,
        license="apache-2.0",
        tasks=("chat", "code", "translation", "summarization"),
        quality=_q(mmlu=70.6, humaneval=40.2, ifeval=55.0),
        quality_tier="medium",
        aliases=("mixtral", "mixtral 8x7b", "mixtral-8x7b"),
    ),
    _model(
        "ibm-granite/granite-3.1-8b-instruct",
        "Granite 3.1 8B Instruct",
        "granite",
        8.17,
        (40, 4096, 32, 8, 128, 12800, 49155, 131072),
        license="apache-2.0",
        tasks=("chat", "rag", "summarization", "code"),
        domains=("finance", "legal"),
        quality=_q(mmlu=65.8, humaneval=70.0, ifeval=72.0),
        quality_tier="small",
        aliases=("granite", "granite 8b", "granite-8b", "granite 3.1"),
    ),
)


def _gpu(
    gid: str,
    name: str,
    mem: float,
    bw: float,
    bf16: float,
    fp8: float,
    link: InterconnectKind,
    link_gb_s: float,
    **kw: object,
) -> GpuSpec:
    fields: dict[str, object] = {
        "id": gid,
        "name": name,
        "vendor": "nvidia",
        "architecture": "x",
        "memory_gib": mem,
        "memory_bandwidth_gb_s": bw,
        "bf16_tflops": bf16,
        "fp8_tflops": fp8,
        "int8_tops": bf16 * 2,
        "interconnect": link,
        "interconnect_gb_s": link_gb_s,
        "gpus_per_node": 8,
        "max_tensor_parallel": 8,
        "node_label": name.replace(" ", "-"),
        "resource_name": "nvidia.com/gpu",
        "source": SRC,
    }
    fields.update(kw)
    return GpuSpec(**fields)  # type: ignore[arg-type]


NV, PCIE = InterconnectKind.NVLINK, InterconnectKind.PCIE
GPUS = (
    _gpu(
        "L4", "NVIDIA L4", 22.5, 300, 121, 242, PCIE, 32, max_tensor_parallel=4, aliases=("l4s", "nvidia l4")
    ),
    _gpu("A10G", "NVIDIA A10G", 22.5, 600, 70, 0, PCIE, 32, max_tensor_parallel=4, aliases=("a10", "a10gs")),
    _gpu("L40S", "NVIDIA L40S", 44.7, 864, 362, 733, PCIE, 32, aliases=("l40", "l40s gpus")),
    _gpu("A100-40GB", "NVIDIA A100 40GB", 40, 1555, 312, 0, NV, 300, aliases=("a100 40gb", "a100-40")),
    _gpu(
        "A100-80GB",
        "NVIDIA A100 80GB",
        80,
        2039,
        312,
        0,
        NV,
        300,
        aliases=("a100", "a100s", "a100 80gb", "a100-80", "a100 80g"),
    ),
    _gpu(
        "H100-SXM",
        "NVIDIA H100 SXM",
        79.6,
        3350,
        989,
        1979,
        NV,
        450,
        aliases=("h100", "h100s", "h100 sxm", "h100 80gb", "hopper"),
    ),
    _gpu("H200", "NVIDIA H200", 139.8, 4800, 989, 1979, NV, 450, aliases=("h200s", "h200 sxm")),
    _gpu(
        "MI300X",
        "AMD Instinct MI300X",
        191.8,
        5300,
        1307,
        2615,
        InterconnectKind.INFINITY_FABRIC,
        448,
        vendor="amd",
        resource_name="amd.com/gpu",
        aliases=("mi300", "mi300x", "amd mi300x", "mi300xs"),
    ),
)


def _price(gid: str, provider: str, usd: float, region: str = "us-east-1") -> GpuPrice:
    return GpuPrice(gid, provider, f"{gid.lower()}-x8", 8, usd, region, "2025-06-01", SRC)


PRICES = (
    _price("L4", "gcp", 0.71, "us-central1"),
    _price("L4", "aws", 0.80),
    _price("A10G", "aws", 1.01),
    _price("L40S", "aws", 1.86),
    _price("L40S", "coreweave", 2.25, "us-east"),
    _price("A100-40GB", "gcp", 2.93, "us-central1"),
    _price("A100-80GB", "azure", 3.67, "eastus"),
    _price("A100-80GB", "lambda", 1.79, "us-west"),
    _price("H100-SXM", "aws", 6.88),
    _price("H100-SXM", "lambda", 2.99, "us-west"),
    _price("H200", "aws", 7.91),
    _price("H200", "coreweave", 6.31, "us-east"),
    _price("MI300X", "azure", 6.00, "eastus"),
)


def _tpl(
    uc: str,
    exp: str,
    slo: tuple[float, float, float],
    tok: tuple[int, int],
    rpm: float,
    active: float,
    peak: float,
    prefix: int = 0,
) -> SloTemplate:
    return SloTemplate(
        use_case=uc,
        description=uc.replace("_", " "),
        rationale="test fixture",
        experience_class=exp,
        slo=SloTargets(ttft_ms=slo[0], itl_ms=slo[1], e2e_ms=slo[2], percentile="p95"),
        traffic=TrafficDefaults(
            input_tokens_mean=tok[0],
            input_tokens_std=tok[0] // 2,
            output_tokens_mean=tok[1],
            output_tokens_std=tok[1] // 2,
            requests_per_active_user_per_min=rpm,
            active_fraction=active,
            peak_factor=peak,
            prefix_tokens=prefix,
        ),
    )


TEMPLATES = (
    _tpl("chatbot_conversational", "conversational", (500, 50, 15000), (512, 256), 2, 0.1, 3, 200),
    _tpl("code_completion", "instant", (150, 20, 2000), (1024, 64), 6, 0.2, 2),
    _tpl("code_generation_detailed", "interactive", (1000, 40, 60000), (1024, 1024), 1, 0.1, 2),
    _tpl("translation", "interactive", (1000, 50, 20000), (512, 512), 1, 0.05, 2),
    _tpl("content_generation", "interactive", (2000, 50, 60000), (512, 1024), 0.5, 0.05, 2),
    _tpl("summarization_short", "interactive", (3000, 60, 40000), (4096, 512), 0.5, 0.05, 2),
    _tpl("document_analysis_rag", "interactive", (2000, 50, 30000), (4096, 512), 1, 0.1, 2, 500),
    _tpl("long_document_summarization", "deferred", (10000, 80, 180000), (10240, 1536), 0.2, 0.05, 1.5),
    _tpl("research_legal_analysis", "deferred", (5000, 60, 180000), (10240, 1536), 0.2, 0.05, 1.5),
    _tpl("batch_offline", "batch", (60000, 200, 600000), (2048, 512), 1, 1.0, 1),
)


def fixture_catalog() -> Catalog:
    """The catalog above, built fresh."""
    return Catalog(models=MODELS, gpus=GPUS, prices=PRICES, templates=TEMPLATES)
