"""The Kubernetes API calls behind deploy/apply.py: read, server-side apply, delete, warning events.

`ClusterApi` wraps an injected `kubernetes.client.ApiClient` and maps every failure to the
DeployError hierarchy: HTTP 5xx, 429 and connection errors are `TransientDeployError`, other
refusals `RejectedError` (a 404 on apply names the missing CRD and how to install it).
`api_client_from_kubeconfig` builds the ApiClient from a kubeconfig context or the in-cluster
service account. Only apply.py uses this module; the bot and the planner never do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client as k8s

from deploy import kinds
from deploy.errors import ClusterUnavailableError, RejectedError, TransientDeployError
from deploy.render import Manifest

FIELD_MANAGER = "predeploy"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
_MISSING_CRD_HINT = {
    "InferenceService": "install KServe (v0.15 or later) in the cluster",
    "ServingRuntime": "install KServe (v0.15 or later) in the cluster",
    "PodMonitor": "install prometheus-operator, or deploy with --monitoring annotations",
    "ScaledObject": "install KEDA, or deploy without --keda",
}


class ClusterApi:
    """Custom-object reads, applies and deletes plus warning events, with errors mapped."""

    def __init__(self, api_client: k8s.ApiClient, *, request_timeout_s: float) -> None:
        self._custom = k8s.CustomObjectsApi(api_client)
        self._core = k8s.CoreV1Api(api_client)
        self._timeout_s = request_timeout_s

    def apply(self, manifest: Manifest, *, dry_run: bool) -> dict[str, Any]:
        """Server-side apply one rendered object (or its `dryRun=All` run); returns the result."""
        return self.patch(manifest.info, manifest.name, manifest.namespace, manifest.body, dry_run=dry_run)

    def patch(
        self, info: kinds.KindInfo, name: str, namespace: str, body: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        """Server-side apply `body` as field manager "predeploy", forcing conflicts."""
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
                _request_timeout=self._timeout_s,
            ),
        )

    def get(self, info: kinds.KindInfo, name: str, namespace: str) -> dict[str, Any] | None:
        """The object as the cluster has it, or None if it does not exist."""

        def get() -> object:
            return self._custom.get_namespaced_custom_object(
                info.group,
                info.version,
                namespace,
                info.plural,
                name,
                _request_timeout=self._timeout_s,
            )

        result = _call("read", info.kind, name, get, missing_ok=True)
        return result if isinstance(result, dict) else None

    def delete(self, info: kinds.KindInfo, name: str, namespace: str) -> bool:
        """Delete (foreground propagation); False if the object did not exist."""

        def delete() -> object:
            return self._custom.delete_namespaced_custom_object(
                info.group,
                info.version,
                namespace,
                info.plural,
                name,
                propagation_policy="Foreground",
                _request_timeout=self._timeout_s,
            )

        return _call("delete", info.kind, name, delete, missing_ok=True) is not None

    def warning_events(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """Warning events of the object and its pods (best effort: [] if the read fails)."""
        try:
            events = self._core.list_namespaced_event(
                namespace,
                field_selector="type=Warning",
                _request_timeout=self._timeout_s,
            )
            # The InferenceService's own events and those of its pods (<name>-predictor-...).
            return [
                e.to_dict()
                for e in events.items or []
                if e.involved_object and (e.involved_object.name or "").startswith(name)
            ]
        except (k8s.ApiException, urllib3.exceptions.HTTPError, OSError, ValueError):
            return []  # the reasons are best effort; the conditions still say most


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
