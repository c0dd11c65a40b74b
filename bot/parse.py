"""Modal state → spec edits, with an error per input block that a person can act on (pure).

The spec modal has one input per field in `SPEC_FIELDS`; its block_id is the field's dotted path
("slo.ttft_ms"), so `response_action: errors` can point at the exact input.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from bot import ids
from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.spec import DeploymentSpec
from planner.types import Precision


class FieldKind(StrEnum):
    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    CHOICE = "choice"
    LIST = "list"  # comma-separated names


@dataclass(frozen=True)
class SpecField:
    path: str  # dotted path in the spec dict, also the input's block_id
    label: str
    kind: FieldKind
    optional: bool = False
    choices: tuple[str, ...] = ()
    hint: str = ""
    none_choice: str = ""  # the choice that means "no constraint" (stored as None)


LEVELS = ("low", "medium", "high")
PRECISION_CHOICES = ("any", *(p.value for p in Precision))  # 'any': the planner chooses
SPEC_FIELDS: tuple[SpecField, ...] = (
    SpecField("use_case", "Use case", FieldKind.CHOICE),
    SpecField("user_count", "Users", FieldKind.INT, hint="people who will use it"),
    SpecField("traffic.peak_qps", "Peak requests per second", FieldKind.FLOAT, hint="derived from users"),
    SpecField("traffic.input_tokens_mean", "Prompt length (tokens)", FieldKind.INT),
    SpecField("traffic.output_tokens_mean", "Answer length (tokens)", FieldKind.INT),
    SpecField(
        "traffic.prefix_tokens",
        "Shared prompt prefix (tokens)",
        FieldKind.INT,
        hint="a system prompt every request starts with (computed once, then cached)",
    ),
    SpecField("slo.ttft_ms", "TTFT target (ms)", FieldKind.FLOAT, hint="time to first token"),
    SpecField("slo.tpot_ms", "TPOT target (ms)", FieldKind.FLOAT, hint="time per output token"),
    SpecField("slo.e2e_ms", "End-to-end target (ms)", FieldKind.FLOAT),
    SpecField("slo.percentile", "SLO percentile", FieldKind.CHOICE, choices=("p50", "p90", "p95", "p99")),
    SpecField("priorities.latency", "Latency priority", FieldKind.CHOICE, choices=LEVELS),
    SpecField("priorities.cost", "Cost priority", FieldKind.CHOICE, choices=LEVELS),
    SpecField("priorities.accuracy", "Accuracy priority", FieldKind.CHOICE, choices=LEVELS),
    SpecField("preferred_gpu_types", "Preferred GPUs", FieldKind.LIST, optional=True, hint="H100, A100-80GB"),
    SpecField("excluded_gpu_types", "Excluded GPUs", FieldKind.LIST, optional=True),
    SpecField("preferred_models", "Preferred models", FieldKind.LIST, optional=True, hint="llama-3.1-8b"),
    SpecField("excluded_models", "Excluded models", FieldKind.LIST, optional=True),
    SpecField("max_gpus", "Max GPUs", FieldKind.INT, optional=True),
    SpecField("budget_usd_month", "Budget (USD per month)", FieldKind.FLOAT, optional=True),
    SpecField(
        "precision",
        "Precision",
        FieldKind.CHOICE,
        choices=PRECISION_CHOICES,
        none_choice="any",
        hint="'any' lets the planner choose",
    ),
    SpecField(
        "context_length_tokens",
        "Longest context (tokens)",
        FieldKind.INT,
        optional=True,
        hint="prompt + answer the longest request needs; empty: from the token lengths",
    ),
)
FIELD_BY_PATH = {f.path: f for f in SPEC_FIELDS}


def get_path(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def read_input(values: Mapping[str, Any], block_id: str) -> str | None:
    """The raw string a user left in one input (None when empty)."""
    element = (values.get(block_id) or {}).get(ids.INPUT_ACTION) or {}
    if element.get("type") in ("static_select", "external_select"):
        chosen = element.get("selected_option") or {}
        return chosen.get("value") or None
    raw = element.get("value")
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def _convert(field: SpecField, raw: str, catalog: Catalog | None) -> Any:
    """Convert one raw value; raises ValueError with the message shown under the input."""
    if field.kind in (FieldKind.INT, FieldKind.FLOAT):
        try:
            number = float(raw.replace(",", "").replace("_", "").strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a number; type digits only, e.g. 500") from None
        if field.kind == FieldKind.FLOAT:
            return number
        if not number.is_integer():
            raise ValueError(f"{raw!r} is not a whole number; type e.g. 5000")
        return int(number)
    if field.kind == FieldKind.CHOICE and field.choices and raw not in field.choices:
        raise ValueError(f"choose one of {', '.join(field.choices)}")
    if field.none_choice and raw == field.none_choice:
        return None
    if field.kind == FieldKind.LIST:
        names = [n.strip() for n in re.split(r"[,;\n]+", raw) if n.strip()]
        return _canonical_names(field, names, catalog)
    return raw


def _canonical_names(field: SpecField, names: list[str], catalog: Catalog | None) -> list[str]:
    if catalog is None:
        return names
    is_gpu = "gpu" in field.path
    out = []
    for name in names:
        found = catalog.find_gpu(name) if is_gpu else catalog.find_model(name)
        if found is None:
            (catalog.gpu if is_gpu else catalog.model)(name)  # raises UnknownNameError with suggestions
        else:
            out.append(found.id)
    return out


def is_positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def retraffic(edited: dict[str, Any], current: Mapping[str, Any], catalog: Catalog | None) -> dict[str, str]:
    """Re-derive the traffic when the users or the peak rate changed (planner.whatif's arithmetic).

    Returns errors by block id; `edited["traffic"]` keeps any typed token lengths.
    """
    from planner.whatif import apply_changes

    changes = []
    if edited.get("user_count") != current.get("user_count") and is_positive(edited.get("user_count")):
        changes.append(("users", str(edited["user_count"])))
    peak = get_path(edited, "traffic.peak_qps")
    if peak != get_path(current, "traffic.peak_qps") and is_positive(peak):
        changes.append(("qps", str(peak)))
    if not changes:
        return {}
    try:
        derived = apply_changes(DeploymentSpec.model_validate(current), changes, catalog or Catalog((), ()))
    except (PlannerError, ValidationError) as exc:
        return {"user_count": str(exc)[:2000]}
    typed = {k: edited["traffic"][k] for k in ("input_tokens_mean", "output_tokens_mean", "prefix_tokens")}
    edited["traffic"] = {**derived.traffic.model_dump(mode="json"), **typed}
    return {}


def apply_spec_edits(
    values: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    catalog: Catalog | None = None,
    partial: bool = False,
) -> tuple[DeploymentSpec | None, dict[str, str]]:
    """Apply a submitted spec modal to the current spec (`partial`: only the inputs present).

    Returns (spec, {}) when valid, or (None, {block_id: message}) with one message per bad input.
    """
    edited = copy.deepcopy(dict(current))
    errors: dict[str, str] = {}
    for field in SPEC_FIELDS:
        raw = read_input(values, field.path)
        if raw is None and partial and field.path not in values:
            continue
        if raw is None:
            if field.optional:
                _set_path(edited, field.path, [] if field.kind == FieldKind.LIST else None)
            elif get_path(current, field.path) is None:
                errors[field.path] = f"{field.label} is required"
            continue
        try:
            _set_path(edited, field.path, _convert(field, raw, catalog))
        except (ValueError, PlannerError) as exc:  # both carry a message for the user
            errors[field.path] = str(exc)[:2000]
    errors = {**retraffic(edited, current, catalog), **errors}
    if catalog is not None and catalog.templates and "use_case" not in errors:
        try:
            edited["use_case"] = catalog.template(str(edited["use_case"])).use_case
        except PlannerError as exc:
            errors["use_case"] = str(exc)[:2000]
    try:
        spec = DeploymentSpec.model_validate(edited)
    except ValidationError as exc:
        return None, {**validation_errors_by_block(exc), **errors}
    t, context = spec.traffic, spec.context_length_tokens
    typical = t.typical_request_tokens
    if context and context < typical and "context_length_tokens" not in errors:
        errors["context_length_tokens"] = (
            f"{context:,} tokens is shorter than a typical request ({t.input_tokens_mean:,}-token prompt "
            f"+ {t.output_tokens_mean:,}-token answer); give at least {typical:,}, or leave it empty"
        )
    return (None, errors) if errors else (spec, {})


def validation_errors_by_block(exc: ValidationError) -> dict[str, str]:
    """Map Pydantic's errors to the modal's block ids (the dotted field path)."""
    out: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        block = path if path in FIELD_BY_PATH else _nearest_block(path)
        given = err.get("input")
        typed = "" if isinstance(given, dict | list) else f" (you typed {given!r})"  # a check across fields
        message = str(err["msg"]).removeprefix("Value error, ")
        out.setdefault(block, f"{message}{typed}"[:2000])
    return out


def _nearest_block(path: str) -> str:
    if path.startswith("traffic.mean_qps"):
        return "traffic.peak_qps"
    if path == "traffic":  # a check across the traffic's fields: the shared prefix against the prompt
        return "traffic.prefix_tokens"
    for candidate in FIELD_BY_PATH:
        if path.startswith(candidate):
            return candidate
    return "user_count"  # every modal has it; the message still names the field


WHATIF_FIELDS: tuple[SpecField, ...] = (
    SpecField(ids.WHATIF_GPU, "GPU type", FieldKind.TEXT, optional=True, hint="e.g. A100-80GB"),
    SpecField(ids.WHATIF_MODEL, "Model", FieldKind.TEXT, optional=True),
    SpecField(ids.WHATIF_USERS, "Users", FieldKind.INT, optional=True),
    SpecField(ids.WHATIF_TTFT, "TTFT target (ms)", FieldKind.FLOAT, optional=True),
    SpecField(ids.WHATIF_TPOT, "TPOT target (ms)", FieldKind.FLOAT, optional=True),
    SpecField(ids.WHATIF_QPS, "Peak requests per second", FieldKind.FLOAT, optional=True),
    SpecField(
        ids.WHATIF_PRECISION,
        "Precision",
        FieldKind.CHOICE,
        optional=True,
        choices=PRECISION_CHOICES,
        hint="'any' lets the planner choose",
    ),
)
WHATIF_KEYS = {
    ids.WHATIF_GPU: "gpu",
    ids.WHATIF_MODEL: "model",
    ids.WHATIF_USERS: "user_count",
    ids.WHATIF_TTFT: "ttft_ms",
    ids.WHATIF_TPOT: "tpot_ms",
    ids.WHATIF_QPS: "qps",
    ids.WHATIF_PRECISION: "precision",
}


def parse_whatif(
    values: Mapping[str, Any], *, catalog: Catalog | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The what-if modal's changes ({"gpu": "A100-80GB", "user_count": 5000}) or errors by block id."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in WHATIF_FIELDS:
        raw = read_input(values, field.path)
        if raw is None:
            continue
        try:
            value = _convert(field, raw, None)
            if field.kind in (FieldKind.INT, FieldKind.FLOAT) and value <= 0:
                raise ValueError(f"{field.label} must be above 0; you typed {raw}")
            if catalog is not None and field.path == ids.WHATIF_GPU:
                value = catalog.gpu(raw).id
            if catalog is not None and field.path == ids.WHATIF_MODEL:
                value = catalog.model(raw).id
        except (ValueError, PlannerError) as exc:
            errors[field.path] = str(exc)[:2000]
            continue
        changes[WHATIF_KEYS[field.path]] = value
    if not changes and not errors:
        errors[ids.WHATIF_GPU] = "change at least one thing: a GPU type, a model, the users or an SLO target"
    return changes, errors
