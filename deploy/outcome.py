"""What a deployment reports: progress steps, per-object changes, options and the result (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from deploy.health import HealthSettings


class StepKind(StrEnum):
    """Steps reported through the progress callback (the thread shows each)."""

    DRY_RUN = "dry_run"
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    WAITING = "waiting"
    READY = "ready"
    HEALTHY = "healthy"
    ROLLING_BACK = "rolling_back"


class ChangeKind(StrEnum):
    """What happened (or would happen, in a dry run) to one object."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"


@dataclass(frozen=True)
class Progress:
    """One step of a deployment, as the progress callback receives it."""

    step: StepKind
    message: str


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class ObjectChange:
    kind: str
    name: str
    change: ChangeKind


@dataclass(frozen=True)
class ApplyOptions:
    """Deadlines and switches; tests shorten the intervals."""

    ready_timeout_s: float = 1800.0
    poll_interval_s: float = 5.0
    request_timeout_s: float = 30.0
    check_health: bool = True
    endpoint_url: str | None = None  # override status.url, e.g. a port-forward from a laptop
    health: HealthSettings = field(default_factory=HealthSettings)


@dataclass(frozen=True)
class DeployResult:
    name: str
    namespace: str
    dry_run: bool
    changes: tuple[ObjectChange, ...]
    url: str | None = None
    ready: bool = False
    health: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(c.change is not ChangeKind.UNCHANGED for c in self.changes)

    def summary(self) -> str:
        """One line for a Slack thread or a terminal."""
        if not self.changed:
            state = "unchanged"
        else:
            state = "would change" if self.dry_run else "applied"
        parts = [f"{self.name} in {self.namespace}: {state}"]
        parts += [f"{c.kind} {c.change}" for c in self.changes]
        if self.ready:
            parts.append(f"Ready at {self.url or 'no URL'}")
        return "; ".join(parts)


def change_of(before: dict[str, Any] | None, after: dict[str, Any]) -> ChangeKind:
    """Compare what exists with what the (dry-run) apply returned: spec, labels and annotations."""
    if before is None:
        return ChangeKind.CREATED
    return ChangeKind.UNCHANGED if _desired(before) == _desired(after) else ChangeKind.CONFIGURED


def _desired(obj: dict[str, Any]) -> tuple[object, object, object]:
    meta = obj.get("metadata") or {}
    return obj.get("spec"), meta.get("labels") or {}, meta.get("annotations") or {}


def restorable(obj: dict[str, Any]) -> dict[str, Any]:
    """The parts of an existing object to re-apply when rolling back to it."""
    meta = obj.get("metadata") or {}
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": keep,
        "spec": obj.get("spec"),
    }


def describe(changes: Sequence[ObjectChange]) -> str:
    return ", ".join(f"{c.kind} {c.name} {c.change}" for c in changes)
