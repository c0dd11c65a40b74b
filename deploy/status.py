"""Reading an InferenceService's status (pure): is it Ready, has it failed for good, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# KServe's modelStatus values that will not heal by waiting.
_FAILED_TRANSITIONS = {"BlockedByFailedLoad", "InvalidSpec"}
_FAILED_MODEL_STATES = {"FailedToLoad"}


@dataclass(frozen=True)
class ReadyState:
    """What one poll of the InferenceService says."""

    ready: bool
    failed: bool  # a terminal failure: stop waiting
    summary: str  # one line for the progress callback
    url: str | None


def read_state(obj: dict[str, Any]) -> ReadyState:
    """Interpret metadata.generation and status of an InferenceService object."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    # Right after an update the old status (Ready=True of the previous spec) is still there.
    stale = isinstance(generation, int) and isinstance(observed, int) and observed < generation
    raw = [c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type")]
    conditions = {str(c["type"]): c for c in raw}
    ready = not stale and conditions.get("Ready", {}).get("status") == "True"
    model = status.get("modelStatus") or {}
    active = (model.get("states") or {}).get("activeModelState")
    failed = not ready and (
        model.get("transitionStatus") in _FAILED_TRANSITIONS or active in _FAILED_MODEL_STATES
    )
    url = (status.get("address") or {}).get("url") or status.get("url")
    return ReadyState(ready=ready, failed=failed, summary=_summary(conditions, model, stale=stale), url=url)


def _summary(conditions: dict[str, dict[str, Any]], model: dict[str, Any], *, stale: bool) -> str:
    if stale:
        return "waiting for KServe to observe the new spec"
    if not conditions:
        return "no status yet"
    parts = [f"{kind}={c.get('status', '?')}" for kind, c in sorted(conditions.items()) if kind]
    state = (model.get("states") or {}).get("activeModelState")
    if state:
        parts.append(f"model {state}")
    return ", ".join(parts)


def failure_reasons(obj: dict[str, Any] | None, events: list[dict[str, Any]]) -> str:
    """Why an InferenceService is not Ready: false conditions, lastFailureInfo, warning events."""
    reasons = []
    status = (obj or {}).get("status") or {}
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("status") != "True":
            detail = ": ".join(str(x) for x in (cond.get("reason"), cond.get("message")) if x)
            reasons.append(f"{cond.get('type')} is {cond.get('status')}" + (f" ({detail})" if detail else ""))
    info = (status.get("modelStatus") or {}).get("lastFailureInfo") or {}
    if info:
        reasons.append(f"last failure {info.get('reason', '?')}: {info.get('message', '')}".rstrip(": "))
    for event in events[-3:]:
        reasons.append(f"event {event.get('reason', '?')}: {event.get('message', '')}")
    return "; ".join(reasons) or "no conditions or events reported"
