"""A loopback HTTP server speaking the part of the Kubernetes API that deploy/apply.py uses.

Namespaced custom objects (GET / PATCH with `application/apply-patch+yaml` / DELETE on
`/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}`, `dryRun=All` honoured) and core events
(`GET /api/v1/namespaces/{ns}/events`). Server-side apply is approximated: the applied object's
labels, annotations and spec replace the stored ones (one field manager owns everything), and
`metadata.generation` grows when the spec changes, as on a real API server.

Tests script the InferenceService status per name (`script_status`): each GET returns the next
entry, the last one repeating; `observedGeneration` is filled in unless the entry sets it.
Failures are injected with `fail(...)`. Every request is recorded in `requests`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

_OBJECT_PATH = re.compile(r"^/apis/([^/]+)/([^/]+)/namespaces/([^/]+)/([^/]+)/([^/]+)$")
_EVENTS_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/events$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any


@dataclass
class _Failure:
    method: str
    plural: str | None
    dry_run: bool | None
    status: int
    times: int
    skip: int = 0


@dataclass
class KubeStub:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (plural, ns, name)
    requests: list[Recorded] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    missing_kinds: set[str] = field(default_factory=set)  # plurals whose CRD is "not installed"
    _scripts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # -- test controls ------------------------------------------------------------------
    def start(self) -> str:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def put(self, plural: str, obj: dict[str, Any]) -> None:
        """Store an object as if it existed before the test."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("generation", 1)
        meta.setdefault("resourceVersion", "1")
        self.objects[(plural, meta["namespace"], meta["name"])] = copy.deepcopy(obj)

    def script_status(self, name: str, statuses: list[dict[str, Any]]) -> None:
        self._scripts[name] = [copy.deepcopy(s) for s in statuses]

    def fail(
        self,
        method: str,
        *,
        plural: str | None = None,
        dry_run: bool | None = None,
        status: int = 500,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Answer the next `times` matching requests with `status`, after letting `skip` through."""
        self._failures.append(_Failure(method, plural, dry_run, status, times, skip))

    def calls(self, method: str, *, plural: str | None = None, dry_run: bool | None = None) -> list[Recorded]:
        out = []
        for r in self.requests:
            match = _OBJECT_PATH.match(r.path)
            if r.method != method or (plural and (not match or match.group(4) != plural)):
                continue
            if dry_run is not None and (r.query.get("dryRun") == "All") != dry_run:
                continue
            out.append(r)
        return out

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural, namespace, name))

    # -- request handling ---------------------------------------------------------------
    def handle(self, method: str, raw_path: str, content_type: str | None, raw: bytes) -> tuple[int, Any]:
        url = urlparse(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(Recorded(method, url.path, query, content_type, body))
            injected = self._injected(method, url.path, query)
            if injected:
                return injected, _status_body(injected, "injected failure")
            if method == "GET" and (m := _EVENTS_PATH.match(url.path)):
                return 200, self._events(m.group(1), query.get("fieldSelector", ""))
            m = _OBJECT_PATH.match(url.path)
            if not m:
                return 404, _status_body(404, f"the stub does not serve {url.path}")
            key = (m.group(4), m.group(3), m.group(5))
            if method == "GET":
                return self._get(key)
            if key[0] in self.missing_kinds:
                return 404, _status_body(404, "the server could not find the requested resource")
            if method == "PATCH":
                return self._apply(key, content_type, query, body)
            if method == "DELETE":
                return (
                    (200, self.objects.pop(key))
                    if key in self.objects
                    else (404, _status_body(404, "not found"))
                )
            return 405, _status_body(405, f"method {method} not allowed")

    def _injected(self, method: str, path: str, query: dict[str, str]) -> int | None:
        m = _OBJECT_PATH.match(path)
        for failure in self._failures:
            if failure.times <= 0 or failure.method != method:
                continue
            if failure.plural and (not m or m.group(4) != failure.plural):
                continue
            if failure.dry_run is not None and (query.get("dryRun") == "All") != failure.dry_run:
                continue
            if failure.skip > 0:
                failure.skip -= 1
                continue
            failure.times -= 1
            return failure.status
        return None

    def _get(self, key: tuple[str, str, str]) -> tuple[int, Any]:
        obj = self.objects.get(key)
        if obj is None:
            return 404, _status_body(404, f'{key[0]} "{key[2]}" not found')
        script = self._scripts.get(key[2])
        if key[0] == "inferenceservices" and script:
            status = script.pop(0) if len(script) > 1 else copy.deepcopy(script[0])
            status.setdefault("observedGeneration", obj["metadata"]["generation"])
            obj["status"] = status
        return 200, obj

    def _apply(
        self, key: tuple[str, str, str], content_type: str | None, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if content_type != "application/apply-patch+yaml":
            return 415, _status_body(415, f"expected an apply patch, got {content_type}")
        if not query.get("fieldManager"):
            return 400, _status_body(400, "fieldManager is required for apply patch")
        if not isinstance(body, dict) or (body.get("metadata") or {}).get("name") != key[2]:
            return 400, _status_body(400, "the name of the object does not match the name on the URL")
        before = self.objects.get(key)
        after = copy.deepcopy(before) if before else {"metadata": {"generation": 0, "resourceVersion": "0"}}
        after["apiVersion"], after["kind"] = body["apiVersion"], body["kind"]
        meta = after["metadata"]
        meta.update(name=key[2], namespace=key[1])
        for part in ("labels", "annotations"):
            meta[part] = copy.deepcopy(body["metadata"].get(part) or {})
        if after.get("spec") != body.get("spec"):
            after["spec"] = copy.deepcopy(body.get("spec"))
            meta["generation"] += 1
        if after != before:
            meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        if query.get("dryRun") != "All":
            self.objects[key] = after
        return (200 if before else 201), after

    def _events(self, namespace: str, selector: str) -> dict[str, Any]:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        items = [
            e
            for e in self.events
            if e["metadata"]["namespace"] == namespace
            and wanted.get("involvedObject.name", e["involvedObject"]["name"]) == e["involvedObject"]["name"]
            and wanted.get("type", e["type"]) == e["type"]
        ]
        return {"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": items}

    def add_event(
        self,
        namespace: str,
        name: str,
        reason: str,
        message: str,
        kind: str = "Warning",
        object_kind: str = "Pod",
    ) -> None:
        self.events.append(
            {
                "metadata": {"name": f"{name}.{len(self.events)}", "namespace": namespace},
                "involvedObject": {"kind": object_kind, "name": name, "namespace": namespace},
                "reason": reason,
                "message": message,
                "type": kind,
            }
        )


def _status_body(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}


class _Handler(BaseHTTPRequestHandler):
    owner: KubeStub

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        code, payload = self.owner.handle(self.command, self.path, self.headers.get("Content-Type"), raw)
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_DELETE = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return None


def ready_status(url: str) -> dict[str, Any]:
    """A KServe status with every condition True and the given URL."""
    conditions = [{"type": t, "status": "True"} for t in ("IngressReady", "PredictorReady", "Ready")]
    return {
        "conditions": conditions,
        "url": url,
        "address": {"url": url},
        "modelStatus": {"transitionStatus": "UpToDate", "states": {"activeModelState": "Loaded"}},
    }


def loading_status() -> dict[str, Any]:
    return {
        "conditions": [
            {"type": "PredictorReady", "status": "False", "reason": "Loading"},
            {"type": "Ready", "status": "False"},
        ],
        "modelStatus": {"transitionStatus": "InProgress", "states": {"activeModelState": "Loading"}},
    }


def failed_status(reason: str, message: str) -> dict[str, Any]:
    return {
        "conditions": [
            {"type": "PredictorReady", "status": "False", "reason": reason, "message": message},
            {"type": "Ready", "status": "False", "reason": reason},
        ],
        "modelStatus": {
            "transitionStatus": "BlockedByFailedLoad",
            "states": {"activeModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": reason, "message": message},
        },
    }


def write_kubeconfig(url: str, path: Path) -> Path:
    """A kubeconfig whose current context points the real kubernetes client at the stub at `url`."""
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stub", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "tester"}}],
        "current-context": "stub",
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    return path
