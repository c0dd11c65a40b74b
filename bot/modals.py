"""The Block Kit modals: the spec editor and the what-if form (pure).

Limits: 100 blocks per modal, 24 characters for title/submit/close, 3000 for private_metadata,
100 options per static_select, 150 characters per placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot import ids
from bot.blocks import clip, context
from bot.parse import SPEC_FIELDS, WHATIF_FIELDS, FieldKind, SpecField, get_path

MAX_MODAL_BLOCKS = 100
MAX_METADATA_CHARS = 3000


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit)}


def _option(value: str) -> dict[str, Any]:
    return {"text": _plain(value), "value": value[:150]}


def _initial_text(value: Any) -> str | None:
    if value is None or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _element(field: SpecField, current: Any, choices: Sequence[str]) -> dict[str, Any]:
    element: dict[str, Any]
    if field.kind == FieldKind.CHOICE:
        element = {"type": "static_select", "options": [_option(c) for c in choices[:100]]}
        if current is not None and str(current) in choices:
            element["initial_option"] = _option(str(current))
        elif current is None and field.none_choice:
            element["initial_option"] = _option(field.none_choice)
    elif field.kind in (FieldKind.INT, FieldKind.FLOAT):
        element = {"type": "number_input", "is_decimal_allowed": field.kind == FieldKind.FLOAT}
        if _initial_text(current) is not None:
            element["initial_value"] = _initial_text(current)
    else:
        element = {"type": "plain_text_input", "max_length": 3000}
        if _initial_text(current) is not None:
            element["initial_value"] = _initial_text(current)
    element["action_id"] = ids.INPUT_ACTION
    return element


def input_block(field: SpecField, current: Any, choices: Sequence[str] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.path,
        "label": _plain(field.label, 2000),
        "optional": field.optional,
        "element": _element(field, current, choices or field.choices),
    }
    if field.hint:
        block["hint"] = _plain(field.hint, 2000)
    return block


def spec_modal(
    spec: Mapping[str, Any], *, private_metadata: str, use_cases: Sequence[str] = (), version: int = 0
) -> dict[str, Any]:
    """The spec editor: one input per field, pre-filled with the current spec."""
    use_case_choices = list(use_cases) or [str(spec.get("use_case", ""))]
    if str(spec.get("use_case")) not in use_case_choices:
        use_case_choices.insert(0, str(spec.get("use_case")))
    blocks: list[dict[str, Any]] = [
        context(f"Spec version {version}. Leave optional fields empty for 'any'.")
    ]
    for field in SPEC_FIELDS:
        choices = use_case_choices if field.path == "use_case" else field.choices
        blocks.append(input_block(field, get_path(spec, field.path), choices))
    return {
        "type": "modal",
        "callback_id": ids.SPEC_MODAL,
        "title": _plain("Deployment spec", 24),
        "submit": _plain("Save", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": private_metadata[:MAX_METADATA_CHARS],
        "blocks": blocks[:MAX_MODAL_BLOCKS],
    }


def whatif_modal(*, private_metadata: str, title_option: str) -> dict[str, Any]:
    """What if…: change GPU type, model, SLO or users and compare with the chosen option."""
    blocks = [context(f"Compared with option {title_option}. Fill in only what you want to change.")]
    blocks += [input_block(f, None) for f in WHATIF_FIELDS]
    return {
        "type": "modal",
        "callback_id": ids.WHATIF_MODAL,
        "title": _plain("What if…", 24),
        "submit": _plain("Compare", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": private_metadata[:MAX_METADATA_CHARS],
        "blocks": blocks,
    }
