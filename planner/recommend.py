"""Model recommendation: which catalog models may serve a spec, and how good each is for its use case.

Filters (each dropped model keeps its reason): explicit choice, exclusions, approval, licence,
context length, and the task the use case needs. Quality is the mean of the model's published
scores on the benchmarks that matter for the use case (0..1), from the catalog's sourced scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from planner.catalog import Catalog, normalise_name
from planner.spec import DeploymentSpec
from planner.types import ModelSpec, SloTemplate

# Benchmarks that speak for each kind of work (lower-cased, separators removed).
TASK_BENCHMARKS: dict[str, tuple[str, ...]] = {
    "code": ("humaneval", "mbpp", "livecodebench", "swebenchverified", "humanevalmul"),
    "chat": ("mmlu", "mmlupro", "ifeval", "mmluredux"),
    "reasoning": ("gpqadiamond", "mmlupro", "math", "math500", "gsm8k"),
    "summarization": ("mmlu", "mmlupro", "ifeval"),
    "rag": ("mmlu", "mmlupro", "ifeval"),
    "translation": ("mmlu", "mmlupro", "ifeval"),
    "writing": ("ifeval", "mmlu", "mmlupro"),
}
TIER_ORDER = ("tiny", "small", "medium", "large", "frontier")
TIER_QUALITY = {"tiny": 0.45, "small": 0.55, "medium": 0.65, "large": 0.75, "frontier": 0.85}
# Tasks implied by use-case ids when the template does not name them.
USE_CASE_TASKS = {
    "code": ("code",),
    "translat": ("translation",),
    "summar": ("summarization",),
    "rag": ("rag",),
}


@dataclass(frozen=True)
class Candidate:
    """A model that may serve the spec, with its quality for the use case (0..1)."""

    model: ModelSpec
    quality: float
    quality_basis: str  # which benchmarks, or "tier"/"size" when none were published


@dataclass(frozen=True)
class Rejected:
    """A model the spec rules out, and why."""

    model_id: str
    reason: str


def required_tasks(template: SloTemplate) -> tuple[str, ...]:
    """The tasks a model must be tagged with for this use case (empty: any)."""
    tasks = template.recommended_model_characteristics.get("tasks")
    if isinstance(tasks, list | tuple) and tasks:
        return tuple(str(t) for t in tasks)
    return next((v for k, v in USE_CASE_TASKS.items() if k in template.use_case), ("chat",))


def context_need_tokens(spec: DeploymentSpec) -> int:
    """Longest context a request needs: prompt + answer at mean + 2 std, at least 4k, or the stated
    context when that is longer (a shorter one would refuse the requests the traffic describes)."""
    t = spec.traffic
    need = t.input_tokens_mean + 2 * t.input_tokens_std + t.output_tokens_mean + 2 * t.output_tokens_std
    return max(spec.context_length_tokens or 0, 4096, 1024 * math.ceil(need / 1024))


def quality_for(model: ModelSpec, tasks: Sequence[str]) -> tuple[float, str]:
    """Model quality for these tasks, 0..1, and what it rests on."""
    wanted = {b for task in tasks for b in TASK_BENCHMARKS.get(task, TASK_BENCHMARKS["chat"])}
    scores = [(normalise_name(q.benchmark), q.score) for q in model.quality if 0 < q.score <= 100]
    relevant = [(name, s) for name, s in scores if name in wanted]
    chosen = relevant or scores
    if chosen:
        names = ", ".join(
            sorted({q.benchmark for q in model.quality if normalise_name(q.benchmark) in dict(chosen)})
        )
        return sum(s for _, s in chosen) / len(chosen) / 100.0, names
    if model.quality_tier in TIER_QUALITY:
        return TIER_QUALITY[model.quality_tier], "tier"
    return min(0.8, 0.45 + 0.1 * math.log10(max(model.params_active_b, 0.1))), "size"


def _licence_ok(model: ModelSpec, licence: str) -> bool:
    return normalise_name(licence) in normalise_name(model.license)


def _tier_ok(model: ModelSpec, template: SloTemplate) -> bool:
    floor = template.recommended_model_characteristics.get("min_quality_tier")
    if floor not in TIER_ORDER or model.quality_tier not in TIER_ORDER:
        return True
    return TIER_ORDER.index(model.quality_tier) >= TIER_ORDER.index(str(floor))


def _reject_reason(m: ModelSpec, spec: DeploymentSpec, template: SloTemplate, need: int) -> str | None:
    chosen = bool(spec.preferred_models)
    if chosen and m.id not in spec.preferred_models:
        return "not among the models asked for"
    if m.id in spec.excluded_models:
        return "excluded by the request"
    if spec.approved_only and not m.approved_for_production:
        return "not approved for production (approved models only)"
    if spec.license and not _licence_ok(m, spec.license):
        return f"licence {m.license} is not {spec.license}"
    if m.max_context_tokens < need:
        return f"context {m.max_context_tokens:,} tokens is shorter than the {need:,} needed"
    tasks = required_tasks(template)
    if not chosen and m.tasks and not set(tasks) & set(m.tasks):
        return f"not tagged for {'/'.join(tasks)}"
    if not chosen and not _tier_ok(m, template):
        floor = template.recommended_model_characteristics.get("min_quality_tier")
        return f"quality tier {m.quality_tier} is below the {floor} this use case needs"
    return None


def candidate_models(spec: DeploymentSpec, catalog: Catalog) -> tuple[list[Candidate], list[Rejected]]:
    """Models that may serve the spec (best quality first), and those ruled out with their reasons."""
    template = catalog.template(spec.use_case)
    need = context_need_tokens(spec)
    tasks = required_tasks(template)
    keep: list[Candidate] = []
    rejected: list[Rejected] = []
    for m in catalog.models:
        reason = _reject_reason(m, spec, template, need)
        if reason:
            rejected.append(Rejected(m.id, reason))
            continue
        quality, basis = quality_for(m, tasks)
        if spec.domain in m.domains and spec.domain != "general":
            quality = min(1.0, quality + 0.03)
        keep.append(Candidate(m, quality, basis))
    keep.sort(key=lambda c: -c.quality)
    return keep, rejected
