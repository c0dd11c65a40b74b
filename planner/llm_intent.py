"""LLM intent extraction through a small interface, falling back to the rule-based extractor.

The planner never talks to Ollama itself: the shell passes a `ChatBackend` (workers/llm.py has the
Ollama one). The flow: the Intent JSON schema goes as the structured-output `format` and is also
restated in the prompt; the answer is validated; one repair round trip is allowed; then, if the
backend is unreachable, too slow or still answers badly, the rule-based extractor answers and the
result says why. Numbers the LLM left out are taken from the rules, which read them reliably.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from planner.catalog import Catalog
from planner.defaults import build_spec
from planner.intent import check_text, parse_intent, resolve_use_case
from planner.intent_numbers import find_scales, normalise_text
from planner.spec import DeploymentSpec, Intent, describe_validation_error, intent_json_schema

DEFAULT_TIMEOUT_S = 20.0


class BackendError(Exception):
    """A chat backend could not answer; `kind` is 'unreachable', 'timeout' or 'error'."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ChatBackend(Protocol):
    """A chat model that answers with JSON constrained to a schema."""

    def chat(self, messages: list[dict[str, str]], *, schema: dict[str, Any], timeout_s: float) -> str:
        """Return the assistant's message content; raise BackendError when it cannot."""
        ...


@dataclass(frozen=True)
class Extraction:
    """An extracted spec, which extractor produced it, and why the LLM was not used when it was not."""

    spec: DeploymentSpec
    intent: Intent
    source: str  # "llm" | "rules"
    fallback_reason: str = ""
    notes: tuple[str, ...] = ()


def system_prompt(catalog: Catalog, schema: dict[str, Any]) -> str:
    """Instructions, the catalog's names, and the schema restated."""
    use_cases = ", ".join(t.use_case for t in catalog.templates)
    gpus = ", ".join(g.id for g in catalog.gpus)
    models = ", ".join(m.id for m in catalog.models)
    return (
        "You turn a request for an LLM deployment into JSON. Answer with one JSON object only, matching "
        "this JSON schema exactly:\n"
        f"{json.dumps(schema, separators=(',', ':'))}\n"
        "Rules: use null for anything not stated; never invent numbers. user_count is people, qps requests "
        "per second at peak. A volume per day, week or month ('50k documents a day') is mean_qps (the "
        "average over the period), not qps; a volume each user handles a day ('each agent answers 40 "
        "tickets a day') is user_requests_per_min (over an 8-hour working day: 40 / 480). "
        "For a range of users take the upper bound. Latency targets are in milliseconds. "
        "priorities are low|medium|high for latency, cost and accuracy (medium when unstated; 'cost doesn't "
        "matter' is low cost). Put GPUs or models the user rules out ('no H100s') in the excluded lists; "
        "'no AMD' or 'NVIDIA only' rules out every GPU of that vendor. A job run in bulk, nightly or "
        "offline is a batch use case whatever its task. A relative change ('10x the users', 'double the "
        "traffic') multiplies the value stated earlier in the conversation. Later messages refine earlier "
        "ones.\n"
        f"use_case is one of: {use_cases}.\nGPU ids: {gpus}.\nModel ids: {models}."
    )


def build_messages(
    text: str, history: Sequence[str], catalog: Catalog, schema: dict[str, Any]
) -> list[dict[str, str]]:
    """The chat messages: system prompt, then the conversation, oldest first."""
    turns = [{"role": "user", "content": m} for m in (*history, text) if m and m.strip()]
    return [{"role": "system", "content": system_prompt(catalog, schema)}, *turns]


def _resolve(intent: Intent, catalog: Catalog) -> tuple[Intent, list[str]]:
    """Map the LLM's names onto catalog ids; drop the ones the catalog does not know."""
    notes: list[str] = []

    def ids(names: list[str], find: Any, kind: str) -> list[str]:
        out = []
        for name in names:
            found = find(name)
            if found is None:
                notes.append(f"ignored unknown {kind} {name!r} from the LLM")
            elif found.id not in out:
                out.append(found.id)
        return out

    use_case = resolve_use_case(intent.use_case, catalog) if intent.use_case else None
    if intent.use_case and use_case is None:
        notes.append(f"ignored unknown use case {intent.use_case!r} from the LLM")
    update = {
        "use_case": use_case,
        "preferred_gpu_types": ids(intent.preferred_gpu_types, catalog.find_gpu, "GPU"),
        "excluded_gpu_types": ids(intent.excluded_gpu_types, catalog.find_gpu, "GPU"),
        "preferred_models": ids(intent.preferred_models, catalog.find_model, "model"),
        "excluded_models": ids(intent.excluded_models, catalog.find_model, "model"),
    }
    return intent.model_copy(update=update), notes


def _parse(raw: str) -> tuple[Intent | None, str]:
    try:
        return Intent.model_validate_json(raw), ""
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return None, f"the answer is not valid JSON ({raw[:80]!r})"
        return None, f"the answer does not match the schema: {describe_validation_error(exc)}"


def _fill_from_rules(llm: Intent, rules: Intent) -> Intent:
    """Fields the LLM left empty are taken from the rule-based reading."""
    update = {
        k: v for k, v in rules.model_dump().items() if getattr(llm, k) in (None, []) and v not in (None, [])
    }
    for basis, values in _BASES.items():  # the rules' working, shown only beside the values it explains
        same = all(update.get(v, getattr(llm, v)) == getattr(rules, v) for v in values)
        update[basis] = getattr(rules, basis) if same else None
    return llm.model_copy(update=update)


_SCALED_FIELDS = {
    "users": ("user_count", "qps", "mean_qps", "qps_basis"),
    "qps": ("user_count", "qps", "mean_qps", "qps_basis"),
    "budget": ("budget_usd_month",),
}


def _scaled_from_rules(llm: Intent, rules: Intent, text: str) -> Intent:
    """A relative change in the latest message ("10x the users", "half the budget") is arithmetic on
    the thread's earlier values, which the rules did exactly: their values win over the LLM's reading
    (which may take "10x the users" for 10 users)."""
    scales = find_scales(normalise_text(text))
    fields = {f for key in scales for f in _SCALED_FIELDS[key]}
    return llm.model_copy(update={f: getattr(rules, f) for f in fields}) if fields else llm


_BASES = {
    "qps_basis": ("qps", "mean_qps", "user_requests_per_min"),
    "input_tokens_basis": ("input_tokens",),
}


def extract_with_llm(
    text: str,
    *,
    history: Sequence[str] = (),
    catalog: Catalog,
    backend: ChatBackend,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Extraction:
    """Extract a spec with the LLM; fall back to the rules (saying why) when it cannot.

    Raises:
        InvalidInputError: empty text, or stated numbers out of range.
    """
    check_text(text)
    rules = parse_intent(text, history=history, catalog=catalog)
    schema = intent_json_schema()
    messages = build_messages(text, history, catalog, schema)
    problem = ""
    for attempt in range(2):
        try:
            raw = backend.chat(messages, schema=schema, timeout_s=timeout_s)
        except BackendError as exc:
            return _fallback(text, history, catalog, f"LLM {exc.kind}: {exc}")
        intent, problem = _parse(raw)
        if intent is not None:
            resolved, notes = _resolve(intent, catalog)
            merged = _scaled_from_rules(_fill_from_rules(resolved, rules), rules, text)
            spec = build_spec(merged, catalog)
            return Extraction(spec, merged, "llm", notes=(*notes, f"LLM answered on attempt {attempt + 1}"))
        messages = [
            *messages,
            {"role": "assistant", "content": raw},
            {
                "role": "user",
                "content": f"That answer was invalid: {problem}. Answer again with one JSON "
                "object matching the schema, and nothing else.",
            },
        ]
    return _fallback(text, history, catalog, f"LLM answered badly twice: {problem}")


def _fallback(text: str, history: Sequence[str], catalog: Catalog, reason: str) -> Extraction:
    from planner.intent import extract

    intent = parse_intent(text, history=history, catalog=catalog)
    return Extraction(
        extract(text, history=history, catalog=catalog), intent, "rules", fallback_reason=reason
    )


def extract_with_rules(
    text: str, *, history: Sequence[str] = (), catalog: Catalog, reason: str = ""
) -> Extraction:
    """The rule-based extraction wrapped as an Extraction (source 'rules')."""
    return _fallback(text, history, catalog, reason)
