"""Model and GPU specs for the performance-model tests (config.json and datasheet figures)."""

from __future__ import annotations

from dataclasses import replace

from planner.types import AttentionKind, ModelSpec
from tests.planner.catalog_fixture import GPUS, MODELS

BY_ID = {m.id: m for m in MODELS}
GPU = {g.id: g for g in GPUS}
# the architectures, with int4 meaning an FP4 checkpoint (the catalog fixture's int4 is its W4A16
# integer checkpoint): the tests that need integer int4 say so with int4_integer=True
LLAMA_8B = replace(BY_ID["meta-llama/Llama-3.1-8B-Instruct"], int4_integer=False)
LLAMA_70B = replace(BY_ID["meta-llama/Llama-3.1-70B-Instruct"], int4_integer=False)
MIXTRAL = BY_ID["mistralai/Mixtral-8x7B-Instruct-v0.1"]
H100 = replace(GPU["H100-SXM"], memory_gib=80.0, architecture="hopper")
L40S = replace(GPU["L40S"], memory_gib=48.0, architecture="ada_lovelace")
# an L40S-like GPU joined by NVLink instead of PCIe: the only difference is the link
L40S_NVLINK = replace(L40S, id="L40S-NVL", interconnect=H100.interconnect, interconnect_gb_s=450.0)

DEEPSEEK_V3 = ModelSpec(
    id="deepseek-ai/DeepSeek-V3",
    name="DeepSeek V3",
    family="deepseek",
    params_total_b=671.0,
    params_active_b=37.0,
    num_layers=61,
    hidden_size=7168,
    num_attention_heads=128,
    num_kv_heads=128,
    head_dim=192,
    intermediate_size=18432,
    vocab_size=129280,
    max_context_tokens=131072,
    license="mit",
    source="config.json",
    attention=AttentionKind.MLA,
    num_experts=256,
    num_experts_active=8,
    kv_lora_rank=512,
    qk_rope_head_dim=64,
)
