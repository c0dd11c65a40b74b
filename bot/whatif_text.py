"""Reading what-if questions in a thread (pure): is a message one, and which changes it asks for."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from planner.catalog import Catalog
from planner.errors import InvalidInputError

_WHATIF = re.compile(r"^\W*(what\s+if|what\s+about|how\s+about|suppose|and\s+if|compare)\b", re.I)
_INTENT_CHANGES = (
    "user_count",
    "qps",
    "mean_qps",
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "budget_usd_month",
    "precision",
)


_SCALED_CHANGES = {"users": "user_count", "qps": "qps", "budget": "budget_usd_month"}


_PAIR = re.compile(
    r"^\W*compare\s+(?:options?\s+)?#?(\d+)\s*(?:and|with|vs\.?|versus|to|against|,|&)?\s*(?:option\s+)?#?(\d+)\W*$",
    re.I,
)


def option_pair(text: str) -> tuple[int, int] | None:
    """The two options of "compare 1 and 2" ("compare options 2 vs 4", "compare #1 with #3"), or None."""
    m = _PAIR.match(text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def is_whatif(text: str) -> bool:
    """True for "what if we use A100s?"-style questions (compare), False for refinements."""
    return bool(_WHATIF.search(text))


def changes_from_text(text: str, *, catalog: Callable[[], Catalog]) -> dict[str, Any]:
    """The what-if changes a sentence asks for ("what if we use A100s and 5000 users?", or
    "what if gpu=A100-80GB, ttft_ms=200" as on the command line).

    catalog: called only when the sentence is prose (the `key=value` form needs none).

    Raises:
        InvalidInputError: nothing to change could be read (the message gives examples).
    """
    from planner.intent import parse_intent
    from planner.intent_numbers import find_scales, normalise_text
    from planner.whatif import parse_changes

    question = _WHATIF.sub("", text).strip().rstrip("?").strip()
    if "=" in question:
        return dict(parse_changes(question))
    intent = parse_intent(question, catalog=catalog())
    changes: dict[str, Any] = {}
    if intent.preferred_gpu_types:
        changes["gpu"] = intent.preferred_gpu_types[0]
    if intent.preferred_models:
        changes["model"] = intent.preferred_models[0]
    for key in _INTENT_CHANGES:
        value = getattr(intent, key)
        if value is not None:
            changes[key] = value
    scales = find_scales(normalise_text(question))  # "10x the users": relative to the plan's spec
    if "users" in scales or "qps" in scales:
        for key in ("user_count", "qps", "mean_qps"):
            changes.pop(key, None)
    for key, factor in scales.items():
        changes[_SCALED_CHANGES[key]] = f"x{factor:g}"
    if not changes:
        raise InvalidInputError(
            "I could not tell what to change; say e.g. 'what if we use A100s?' or 'what if 5000 users?'"
        )
    return changes
