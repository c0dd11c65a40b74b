"""Undo a failed deployment: re-apply each object's previous spec, or delete what this run created."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploy.cluster import ClusterApi
from deploy.errors import DeployError
from deploy.outcome import Progress, ProgressFn, StepKind, restorable
from deploy.render import Manifest


def rollback(
    cluster: ClusterApi,
    applied: Sequence[Manifest],
    *,
    previous: dict[str, dict[str, Any] | None],
    report: ProgressFn,
) -> list[str]:
    """Undo `applied` in reverse order; returns one line per object (what was undone, or why not).

    previous: each kind's object as read before the apply (None: it did not exist, so delete it).
    Never raises for a failed undo: the line says "could not undo ..." and the rest still runs.
    """
    if applied:
        report(Progress(StepKind.ROLLING_BACK, f"undoing {len(applied)} change(s)"))
    undone = []
    for manifest in reversed(applied):
        before = previous.get(manifest.info.kind)
        what = f"{manifest.info.kind} {manifest.name}"
        try:
            if before is None:
                cluster.delete(manifest.info, manifest.name, manifest.namespace)
                undone.append(f"deleted {what}")
            else:
                cluster.patch(
                    manifest.info, manifest.name, manifest.namespace, restorable(before), dry_run=False
                )
                undone.append(f"restored the previous {what}")
        except DeployError as exc:
            undone.append(f"could not undo {what}: {exc}")
    return undone
