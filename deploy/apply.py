"""Apply rendered manifests to a cluster: the only module in predeploy that talks to Kubernetes.

`Deployer(api_client).deploy(rendered)` does, in order: read what exists; a server-side-apply dry
run (`dryRun=All`, field manager "predeploy") of every object; the apply of those that would
change; polling the InferenceService to its `Ready` condition (or a deadline); a health check of
its URL; and, if any step after the apply fails, a rollback (previous spec re-applied, or objects
created by this call deleted) with the reasons (conditions, lastFailureInfo, events). Applying
the same manifests twice changes nothing: the second run reports every object "unchanged".

Approval gate: `deploy_option` performs the deployment unconditionally. The worker job that calls
it (workers/) must first check that an admin's approval of this plan is recorded, and refuse
otherwise; nothing in deploy/ knows about approvals.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import urllib3
from kubernetes import client as k8s

from deploy import kinds
from deploy.errors import (
    ClusterUnavailableError,
    DeployError,
    RejectedError,
    RolledBackError,
    TransientDeployError,
)
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
    restorable,
)
from deploy.render import Manifest, RenderedManifests, RenderSettings, render
from deploy.status import failure_reasons, read_state
from deploy.validate import validate_rendered
from planner.plan import PlanResult
from planner.types import GpuSpec

FIELD_MANAGER = "predeploy"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
_OUTSIDE_CLUSTER_HINT = (
    ". If predeploy runs outside the cluster, the status URL may be unreachable from here: pass "
    "--endpoint (e.g. through `kubectl port-forward`) or --skip-health"
)
_MISSING_CRD_HINT = {
    "InferenceService": "install KServe (v0.15 or later) in the cluster",
    "ServingRuntime": "install KServe (v0.15 or later) in the cluster",
    "PodMonitor": "install prometheus-operator, or deploy with --monitoring annotations",
    "ScaledObject": "install KEDA, or deploy without --keda",
}
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
        self._custom = k8s.CustomObjectsApi(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._options = options or ApplyOptions()
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
        previous = {m.info.kind: self._get(m.info, m.name, m.namespace) for m in rendered.manifests}
        changes = []
        for manifest in rendered.manifests:
            after = self._apply(manifest, dry_run=True)
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
            if self._delete(info, name, namespace):
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
                self._apply(manifest, dry_run=False)
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
                obj = self._get(isvc.info, isvc.name, isvc.namespace)
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
        if applied:
            report(Progress(StepKind.ROLLING_BACK, f"undoing {len(applied)} change(s)"))
        undone = []
        for manifest in reversed(applied):
            before = previous.get(manifest.info.kind)
            what = f"{manifest.info.kind} {manifest.name}"
            try:
                if before is None:
                    self._delete(manifest.info, manifest.name, manifest.namespace)
                    undone.append(f"deleted {what}")
                else:
                    self._patch(
                        manifest.info, manifest.name, manifest.namespace, restorable(before), dry_run=False
                    )
                    undone.append(f"restored the previous {what}")
            except DeployError as exc:
                undone.append(f"could not undo {what}: {exc}")
        return undone

    def _reasons(self, isvc: Manifest, obj: dict[str, Any] | None) -> str:
        try:
            events = self._core.list_namespaced_event(
                isvc.namespace,
                field_selector="type=Warning",
                _request_timeout=self._options.request_timeout_s,
            )
            # The InferenceService's own events and those of its pods (<name>-predictor-...).
            items = [
                e.to_dict()
                for e in events.items or []
                if e.involved_object and (e.involved_object.name or "").startswith(isvc.name)
            ]
        except (k8s.ApiException, urllib3.exceptions.HTTPError, OSError, ValueError):
            items = []  # the reasons are best effort; the conditions still say most
        return failure_reasons(obj, items)

    def _apply(self, manifest: Manifest, *, dry_run: bool) -> dict[str, Any]:
        return self._patch(manifest.info, manifest.name, manifest.namespace, manifest.body, dry_run=dry_run)

    def _patch(
        self, info: kinds.KindInfo, name: str, namespace: str, body: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        action = "dry-run apply" if dry_run else "apply"
        try:
            result = self._patch_call(info, name, namespace, body, dry_run=dry_run, action=action)
        except RejectedError as exc:
            if exc.status != 404:
                raise
            raise RejectedError(
                action,
                info.kind,
                name,
                404,
                f"the cluster does not serve {info.plural}.{info.group}/{info.version}; "
                f"{_MISSING_CRD_HINT.get(info.kind, 'install its CRD')}",
            ) from exc
        return result if isinstance(result, dict) else {}

    def _patch_call(
        self,
        info: kinds.KindInfo,
        name: str,
        namespace: str,
        body: dict[str, Any],
        *,
        dry_run: bool,
        action: str,
    ) -> object:
        return _call(
            action,
            info.kind,
            name,
            lambda: self._custom.patch_namespaced_custom_object(
                info.group,
                info.version,
                namespace,
                info.plural,
                name,
                body,
                dry_run="All" if dry_run else None,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type=APPLY_CONTENT_TYPE,
                _request_timeout=self._options.request_timeout_s,
            ),
        )

    def _get(self, info: kinds.KindInfo, name: str, namespace: str) -> dict[str, Any] | None:
        def get() -> object:
            return self._custom.get_namespaced_custom_object(
                info.group,
                info.version,
                namespace,
                info.plural,
                name,
                _request_timeout=self._options.request_timeout_s,
            )

        result = _call("read", info.kind, name, get, missing_ok=True)
        return result if isinstance(result, dict) else None

    def _delete(self, info: kinds.KindInfo, name: str, namespace: str) -> bool:
        def delete() -> object:
            return self._custom.delete_namespaced_custom_object(
                info.group,
                info.version,
                namespace,
                info.plural,
                name,
                propagation_policy="Foreground",
                _request_timeout=self._options.request_timeout_s,
            )

        return _call("delete", info.kind, name, delete, missing_ok=True) is not None


def _call(action: str, kind: str, name: str, fn: Callable[[], object], *, missing_ok: bool = False) -> object:
    """Run one API call; map failures to RejectedError / TransientDeployError (None for a 404)."""
    try:
        return fn()
    except k8s.ApiException as exc:
        status = int(exc.status or 0)
        if status == 404 and missing_ok:
            return None
        reason = _api_message(exc)
        if status >= 500 or status in (0, 429):
            raise TransientDeployError(f"could not {action} {kind} {name!r}: HTTP {status} {reason}") from exc
        raise RejectedError(action, kind, name, status, reason) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise TransientDeployError(
            f"could not {action} {kind} {name!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _api_message(exc: k8s.ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


def api_client_from_kubeconfig(
    context: str | None = None, *, config_file: str | None = None
) -> k8s.ApiClient:
    """An ApiClient for a kubeconfig context (or the in-cluster service account).

    config_file: the KUBECONFIG value (paths joined by ':'); None reads ~/.kube/config.

    Raises:
        ClusterUnavailableError: no kubeconfig, no such context, and not running in a cluster.
    """
    from kubernetes import config

    try:
        api: k8s.ApiClient = config.new_client_from_config(config_file=config_file, context=context)  # type: ignore[no-untyped-call]
        return api
    except (config.ConfigException, OSError, TypeError) as exc:
        if context is None:
            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
                return k8s.ApiClient()
            except config.ConfigException:
                pass
        where = f"context {context!r}" if context else "a kubeconfig (KUBECONFIG or ~/.kube/config)"
        raise ClusterUnavailableError(
            f"no cluster to deploy to: could not load {where}: {str(exc).rstrip('.')}. Point KUBECONFIG "
            "at a cluster with KServe installed, or use `predeploy render` to write the manifests."
        ) from exc


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
