"""Rule-based intent extraction: deterministic, fast (< 5 ms), always available.

    parse_intent(text, history=..., catalog=...) -> Intent          what the messages said
    extract(text, history=..., catalog=...) -> DeploymentSpec       ... with the template's defaults

History is read oldest first and each message refines what came before: numbers replace earlier
numbers ("make it 3000 users"), a named GPU or model replaces the earlier preference ("use H100s"),
and the use case changes only when a later message names another one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from planner.catalog import Catalog, normalise_name
from planner.defaults import build_spec
from planner.errors import InvalidInputError
from planner.intent_names import find_names
from planner.intent_numbers import (
    find_budget,
    find_direct_qps,
    find_max_gpus,
    find_percentile,
    find_scales,
    find_slo,
    find_tokens,
    find_users,
    normalise_text,
)
from planner.intent_volumes import find_document_size, find_item_volume, find_token_volume, find_user_volume
from planner.intent_words import find_domain, find_priorities, is_negated, score_use_cases
from planner.spec import DeploymentSpec, Intent, Percentile
from planner.types import Precision

# Template ids other catalogs use for the same use case, tried in order.
USE_CASE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "chatbot_conversational": ("chatbot", "chat", "customer_service", "conversational_chat"),
    "code_completion": ("autocomplete", "code_autocomplete"),
    "code_generation_detailed": ("code_generation", "coding_assistant", "code_assistant"),
    "summarization_short": ("summarization", "summarisation"),
    "document_analysis_rag": ("rag", "document_qa", "retrieval_augmented_generation"),
    "long_document_summarization": ("long_summarization", "summarization"),
    "research_legal_analysis": ("legal_analysis", "research_analysis"),
    "batch_processing": ("batch_offline", "batch", "batch_inference", "offline_batch"),
    "content_generation": ("content_creation", "marketing_content"),
}

_PRECISION_RULES: tuple[tuple[str, Precision], ...] = (
    (r"\bfp8\b|\b8-?bit float", Precision.FP8),
    (r"\bint4\b|\b4-?bit\b|\bawq\b|\bgptq\b", Precision.INT4),
    (r"\bint8\b|\b8-?bit\b", Precision.INT8),
    (r"\bbf16\b|bfloat16|full precision|unquantized|no quantization", Precision.BF16),
    (r"\bfp16\b|float16|half precision", Precision.FP16),
)


def resolve_use_case(candidate: str, catalog: Catalog) -> str | None:
    """Map a rule id (or an LLM's answer) onto a template id of this catalog, or None."""
    ids = {normalise_name(t.use_case): t.use_case for t in catalog.templates}
    key = normalise_name(candidate)
    group = next(
        (g for g in ((k, *v) for k, v in USE_CASE_SYNONYMS.items()) if key in map(normalise_name, g)), ()
    )
    for name in (candidate, *group):
        if normalise_name(name) in ids:
            return ids[normalise_name(name)]
    return None


def _template_keyword_scores(t: str, catalog: Catalog) -> dict[str, float]:
    scores: dict[str, float] = {}
    for tpl in catalog.templates:
        keywords = getattr(tpl, "keywords", ()) or tpl.recommended_model_characteristics.get("keywords", ())
        for kw in keywords if isinstance(keywords, list | tuple) else ():
            for m in re.finditer(rf"\b{re.escape(str(kw).lower())}", t):
                delta = -2.0 if is_negated(t, m.start()) else 2.0
                scores[tpl.use_case] = scores.get(tpl.use_case, 0.0) + delta
    return scores


def find_use_case(t: str, catalog: Catalog) -> str | None:
    """The catalog use case the message describes best, or None."""
    scores: dict[str, float] = {}
    for rule_id, score in score_use_cases(t).items():
        resolved = resolve_use_case(rule_id, catalog)
        if resolved:
            scores[resolved] = scores.get(resolved, 0.0) + score
    for uc, score in _template_keyword_scores(t, catalog).items():
        scores[uc] = scores.get(uc, 0.0) + score
    scores = {k: v for k, v in scores.items() if v > 0}
    return max(scores, key=lambda k: scores[k]) if scores else None


def _merge_names(
    old_want: list[str], old_excl: list[str], want: list[str], excl: list[str]
) -> tuple[list[str], list[str]]:
    new_excl = [x for x in old_excl if x not in want] + [x for x in excl if x not in old_excl]
    new_want = want if want else [x for x in old_want if x not in new_excl]
    return new_want, new_excl


def _refine(intent: Intent, text: str, catalog: Catalog, *, is_followup: bool) -> Intent:
    t = normalise_text(text)
    upd: dict[str, object] = {}
    use_case = find_use_case(t, catalog)
    if use_case:
        upd["use_case"] = use_case
    users, concurrent = find_users(t, refinement=is_followup)
    if users is not None:
        upd["user_count"] = users
        upd["concurrency"] = users if concurrent else None
    direct, items = find_direct_qps(t), find_item_volume(t)
    if direct is not None:
        upd.update(qps=direct, mean_qps=None, qps_basis=None)
    elif items is not None:  # a day's volume is its mean rate; a deadline's or an hour's is the rate
        rate = {"mean_qps": items.qps, "qps": None} if items.average else {"qps": items.qps, "mean_qps": None}
        upd.update(rate, qps_basis=items.basis, user_requests_per_min=None)
    elif (each := find_user_volume(t)) is not None:  # each user's volume: the users set the total
        upd.update(user_requests_per_min=each[0], qps=None, mean_qps=None, qps_basis=each[1])
    token_volume = find_token_volume(t)
    if token_volume is not None:
        tokens_per_s, average = token_volume
        upd["mean_tokens_per_s" if average else "tokens_per_s"] = tokens_per_s
        upd["tokens_per_s" if average else "mean_tokens_per_s"] = None
    for kind, want_key, excl_key in (
        ("gpu", "preferred_gpu_types", "excluded_gpu_types"),
        ("model", "preferred_models", "excluded_models"),
    ):
        want, excl = find_names(t, catalog, kind)
        old_want, old_excl = getattr(intent, want_key), getattr(intent, excl_key)
        upd[want_key], upd[excl_key] = _merge_names(old_want, old_excl, want, excl)
    if re.search(r"\bany (?:gpu|hardware)\b|no gpu preference|drop the gpu", t):
        upd["preferred_gpu_types"] = []
    upd.update(find_slo(t))
    tokens = find_tokens(t)
    size = find_document_size(t)
    if "input_tokens" in tokens:
        upd["input_tokens_basis"] = None
    elif size:
        tokens["input_tokens"], upd["input_tokens_basis"] = size
    upd.update(tokens)
    pct = find_percentile(t)
    if pct:
        upd["percentile"] = Percentile(pct)
    prios = find_priorities(t)
    if prios:
        upd["priorities"] = intent.priorities.model_copy(update=prios)
    optional = {
        "domain": find_domain(t),
        "budget_usd_month": find_budget(t),
        "max_gpus": find_max_gpus(t),
        "precision": next((p for rx, p in _PRECISION_RULES if re.search(rx, t)), None),
        "provider": _find_provider(t, catalog),
        "region": _find_region(t),
        "license": "apache-2.0" if re.search(r"apache|permissive(?:ly)? licen[cs]", t) else None,
        "approved_only": True
        if re.search(
            r"approved (?:models )?only|only approved|vetted models|"
            r"production-approved|pre-approved",
            t,
        )
        else None,
    }
    upd.update({k: v for k, v in optional.items() if v is not None})
    upd.update(_scaled(intent, find_scales(t), upd))
    return intent.model_copy(update=upd)


def _scaled(intent: Intent, scales: dict[str, float], stated: dict[str, object]) -> dict[str, object]:
    """What "10x the users", "double the traffic" or "half the budget" make of the values so far
    (a value the same message states outright wins). Traffic follows the users: scaling the users
    scales a stated rate with them, and scaling the rate of users with no stated rate scales them."""
    out: dict[str, object] = {}
    users = scales.get("users", 1.0) if "user_count" not in stated else 1.0
    rate = scales.get("qps", 1.0) if stated.get("qps") is None and stated.get("mean_qps") is None else 1.0
    has_rate = intent.qps is not None or intent.mean_qps is not None
    if (users != 1.0 or rate != 1.0) and (has_rate or intent.user_count):  # nothing to scale: ask
        factor = users * rate
        if has_rate:
            for key in ("qps", "mean_qps"):
                value = getattr(intent, key)
                out[key] = None if value is None else value * factor
            if intent.qps_basis:
                new = out["qps"] if out["qps"] is not None else out["mean_qps"]
                out["qps_basis"] = f"{intent.qps_basis}; × {factor:g} = {new:.3g} req/s"
        if intent.user_count and (users != 1.0 or not has_rate):
            out["user_count"] = max(round(intent.user_count * (users if has_rate else factor)), 1)
    if "budget" in scales and "budget_usd_month" not in stated and intent.budget_usd_month:
        out["budget_usd_month"] = intent.budget_usd_month * scales["budget"]
    return out


def _find_provider(t: str, catalog: Catalog) -> str | None:
    providers = {p.provider.lower() for p in catalog.prices}
    aliases = {"amazon": "aws", "google cloud": "gcp", "google": "gcp", "microsoft": "azure"}
    for word, provider in [*((p, p) for p in sorted(providers)), *aliases.items()]:
        m = re.search(
            rf"\b(?:on|in|use|using|with|at|via|through|from|host(?:ed)? on)\s+{re.escape(word)}\b", t
        )
        if m and provider in providers:
            return provider
    return None


def _find_region(t: str) -> str | None:
    m = re.search(
        r"\b((?:us|eu|ap|ca|sa|me|af)-(?:east|west|north|south|central|northeast|southeast)\d?-\d)\b", t
    )
    return m.group(1) if m else None


def parse_intent(text: str, *, history: Sequence[str] = (), catalog: Catalog) -> Intent:
    """What the conversation says, oldest message first, the latest message refining the rest."""
    intent = Intent()
    messages = [m for m in (*history, text) if m and m.strip()]
    for i, message in enumerate(messages):
        intent = _refine(intent, message, catalog, is_followup=i > 0)
    return intent


def extract(text: str, *, history: Sequence[str] = (), catalog: Catalog) -> DeploymentSpec:
    """Rule-based extraction of a full spec (template defaults where the text is silent).

    Raises:
        InvalidInputError: empty text, or a stated number out of range (e.g. 10^12 users).
    """
    check_text(text)
    return build_spec(parse_intent(text, history=history, catalog=catalog), catalog)


def check_text(text: str) -> None:
    """Raises:
    InvalidInputError: the request is empty.
    """
    if not text or not text.strip():
        raise InvalidInputError(
            "the request is empty; describe the use case, "
            "e.g. 'a support chatbot for 1000 users, latency matters'"
        )
