"""Apply rendered manifests to a cluster: the deployment procedure predeploy runs against Kubernetes.

`Deployer(api_client).deploy(rendered)` does, in order: read what exists; a server-side-apply dry
run (`dryRun=All`, field manager "predeploy") of every object; the apply of those that would
change; polling the InferenceService to its `Ready` condition (or a deadline); a health check of
its URL; and, if any step after the apply fails, a rollback (previous spec re-applied, or objects
created by this call deleted) with the reasons (conditions, lastFailureInfo, events). Applying
the same manifests twice changes nothing: the second run reports every object "unchanged".
The API calls themselves are in cluster.py, the undo in rollback.py; only this module uses them.

Approval gate: `deploy_option` performs the deployment unconditionally. The worker job that calls
it (workers/) must first check that an admin's approval of this plan is recorded, and refuse
otherwise; nothing in deploy/ knows about approvals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from kubernetes import client as k8s

from deploy import kinds
from deploy.cluster import ClusterApi, api_client_from_kubeconfig
from deploy.errors import DeployError, RejectedError, RolledBackError, TransientDeployError
from deploy.health import check_health
from deploy.outcome import (
    ApplyOptions,
    ChangeKind,
    DeployResult,
    ObjectChange,
    Progress,
    ProgressFn,
    StepKind,
    change_of,
    describe,
)
from deploy.render import Manifest, RenderedManifests, RenderSettings, render
from deploy.rollback import rollback
from deploy.status import failure_reasons, read_state
from deploy.validate import validate_rendered
from planner.plan import PlanResult
from planner.types import GpuSpec

_OUTSIDE_CLUSTER_HINT = (
    ". If predeploy runs outside the cluster, the status URL may be unreachable from here: pass "
    "--endpoint (e.g. through `kubectl port-forward`) or --skip-health"
)
__all__ = [
    "ApplyOptions",
    "ChangeKind",
    "DeployResult",
    "Deployer",
    "ObjectChange",
    "Progress",
    "StepKind",
    "api_client_from_kubeconfig",
    "deploy_option",
]


class _Failed(Exception):
    """Internal: a step after the apply failed; carries the reason for the rollback message."""


def _silent(_: Progress) -> None:
    return None


class Deployer:
    """Applies, watches and rolls back through an injected `kubernetes.client.ApiClient`."""

    def __init__(
        self,
        api_client: k8s.ApiClient,
        *,
        options: ApplyOptions | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options or ApplyOptions()
        self._cluster = ClusterApi(api_client, request_timeout_s=self._options.request_timeout_s)
        self._http = http
        self._sleep = sleep
        self._clock = clock

    def deploy(
        self, rendered: RenderedManifests, *, dry_run: bool = False, progress: ProgressFn | None = None
    ) -> DeployResult:
        """Dry-run, apply, wait for Ready, health-check; roll back on failure.

        Raises:
            RejectedError: the dry run was refused (nothing was changed).
            TransientDeployError: the API failed in a way worth retrying.
            RolledBackError: the apply, readiness or health failed; the changes were undone.
        """
        report = progress or _silent
        previous = {m.info.kind: self._cluster.get(m.info, m.name, m.namespace) for m in rendered.manifests}
        changes = []
        for manifest in rendered.manifests:
            after = self._cluster.apply(manifest, dry_run=True)
            changes.append(
                ObjectChange(
                    manifest.info.kind, manifest.name, change_of(previous[manifest.info.kind], after)
                )
            )
        report(Progress(StepKind.DRY_RUN, "dry run accepted: " + describe(changes)))
        result = DeployResult(rendered.name, rendered.namespace, dry_run=True, changes=tuple(changes))
        if dry_run:
            return result
        applied = self._apply_changed(rendered, changes, previous, report)
        try:
            url = self._wait_ready(rendered, report)
            health = self._health(url, rendered.served_model_name, report)
        except _Failed as failure:
            raise RolledBackError(
                rendered.name, str(failure), self._rollback(applied, previous, report)
            ) from None
        return DeployResult(
            rendered.name,
            rendered.namespace,
            False,
            tuple(changes),
            url=url,
            ready=True,
            health=tuple(health),
        )

    def undeploy(self, name: str, namespace: str) -> tuple[ObjectChange, ...]:
        """Delete every kind predeploy renders under this name; absent objects are skipped.

        Raises:
            RejectedError, TransientDeployError: the API refused or failed.
        """
        deleted = []
        for info in reversed(kinds.KINDS):
            if self._cluster.delete(info, name, namespace):
                deleted.append(ObjectChange(info.kind, name, ChangeKind.DELETED))
        return tuple(deleted)

    def _apply_changed(
        self,
        rendered: RenderedManifests,
        changes: Sequence[ObjectChange],
        previous: dict[str, dict[str, Any] | None],
        report: ProgressFn,
    ) -> list[Manifest]:
        applied: list[Manifest] = []
        for manifest, change in zip(rendered.manifests, changes, strict=True):
            if change.change is ChangeKind.UNCHANGED:
                continue
            try:
                self._cluster.apply(manifest, dry_run=False)
            except RejectedError as exc:
                raise RolledBackError(
                    rendered.name, str(exc), self._rollback(applied, previous, report)
                ) from exc
            except TransientDeployError:
                self._rollback(applied, previous, report)
                raise
            applied.append(manifest)
        step = StepKind.APPLIED if applied else StepKind.UNCHANGED
        report(Progress(step, describe(changes) if applied else "every object is unchanged"))
        return applied

    def _wait_ready(self, rendered: RenderedManifests, report: ProgressFn) -> str | None:
        isvc = rendered.get(kinds.INFERENCE_SERVICE.kind)
        if isvc is None:
            return None
        deadline = self._clock() + self._options.ready_timeout_s
        last_summary, obj = "", None
        while True:
            try:
                obj = self._cluster.get(isvc.info, isvc.name, isvc.namespace)
            except TransientDeployError as exc:
                report(Progress(StepKind.WAITING, f"status read failed, retrying: {exc}"))
            state = read_state(obj) if obj else None
            if state and state.ready:
                report(Progress(StepKind.READY, f"{isvc.name} is Ready at {state.url or 'no URL'}"))
                return state.url
            if state and state.summary != last_summary:
                last_summary = state.summary
                report(Progress(StepKind.WAITING, f"{isvc.name}: {state.summary}"))
            if state and state.failed:
                raise _Failed(f"{isvc.name} cannot start: {self._reasons(isvc, obj)}")
            if self._clock() >= deadline:
                waited = self._options.ready_timeout_s
                raise _Failed(f"{isvc.name} not Ready after {waited:g} s: {self._reasons(isvc, obj)}")
            self._sleep(self._options.poll_interval_s)

    def _health(self, url: str | None, served: str, report: ProgressFn) -> list[str]:
        if not self._options.check_health:
            return []
        target = self._options.endpoint_url or url
        if not target:
            raise _Failed("the InferenceService is Ready but reports no URL to health-check")
        http = self._http or httpx.Client()
        try:
            passed = check_health(
                target,
                served_model_name=served,
                client=http,
                settings=self._options.health,
                sleep=self._sleep,
            )
        except DeployError as exc:
            hint = "" if self._options.endpoint_url else _OUTSIDE_CLUSTER_HINT
            raise _Failed(f"health check failed: {exc}{hint}") from exc
        finally:
            if self._http is None:
                http.close()
        report(Progress(StepKind.HEALTHY, "; ".join(passed)))
        return passed

    def _rollback(
        self, applied: Sequence[Manifest], previous: dict[str, dict[str, Any] | None], report: ProgressFn
    ) -> list[str]:
        return rollback(self._cluster, applied, previous=previous, report=report)

    def _reasons(self, isvc: Manifest, obj: dict[str, Any] | None) -> str:
        return failure_reasons(obj, self._cluster.warning_events(isvc.name, isvc.namespace))


def deploy_option(
    plan: PlanResult,
    *,
    option_rank: int,
    gpu: GpuSpec,
    settings: RenderSettings,
    api_client: k8s.ApiClient,
    options: ApplyOptions | None = None,
    dry_run: bool = False,
    progress: ProgressFn | None = None,
) -> DeployResult:
    """Render, validate and deploy one option of a plan. Call only after the plan's approval is recorded.

    Raises:
        DeployError: any subclass; see `Deployer.deploy`, `render` and `validate_rendered`.
    """
    rendered = render(plan, option_rank=option_rank, gpu=gpu, settings=settings)
    validate_rendered(rendered)
    return Deployer(api_client, options=options).deploy(rendered, dry_run=dry_run, progress=progress)
