"""Apply, readiness, health, rollback and idempotency against the loopback Kubernetes API stub,
driven by the real kubernetes client; the health check hits a pytest-httpserver endpoint."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from deploy.apply import ApplyOptions, ChangeKind, Deployer, Progress, StepKind, deploy_option
from deploy.errors import RejectedError, RolledBackError, TransientDeployError
from deploy.health import HealthSettings
from deploy.render import RenderedManifests, RenderSettings, render
from tests.deploy.conftest import gpu_by_id, make_plan, option_dict
from tests.deploy.k8s_stub import failed_status, loading_status, ready_status

NS = "team-a"
ISVC = "inferenceservices"


class FakeTime:
    """sleep() advances clock(); no test waits for real."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _rendered(**settings: Any) -> RenderedManifests:
    settings.setdefault("namespace", NS)
    return render(make_plan(), option_rank=1, gpu=gpu_by_id("H100-SXM"), settings=RenderSettings(**settings))


def _serve_model(server: HTTPServer, name: str, *, completion_status: int = 200) -> None:
    server.expect_request("/health").respond_with_data("")
    server.expect_request("/v1/models").respond_with_json({"object": "list", "data": [{"id": name}]})
    server.expect_request("/v1/completions", method="POST").respond_with_json(
        {"choices": [{"text": "OK"}], "usage": {"completion_tokens": 1}}, status=completion_status
    )


def _deployer(api, fake: FakeTime, **options: Any) -> Deployer:
    options.setdefault("poll_interval_s", 5.0)
    options.setdefault("ready_timeout_s", 60.0)
    options.setdefault("health", HealthSettings(attempts=2, retry_interval_s=0.0, request_timeout_s=5.0))
    return Deployer(
        api, options=ApplyOptions(**options), http=httpx.Client(), sleep=fake.sleep, clock=fake.clock
    )


def test_fresh_deploy_dry_runs_applies_waits_and_checks_health(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    url = httpserver.url_for("/").rstrip("/")
    stub.script_status(rendered.name, [loading_status(), loading_status(), ready_status(url)])
    _serve_model(httpserver, rendered.served_model_name)
    steps: list[Progress] = []
    fake = FakeTime()

    result = _deployer(api, fake).deploy(rendered, progress=steps.append)

    assert result.ready and result.url == url and result.changed
    assert result.summary().startswith(f"{rendered.name} in {NS}: applied; ServingRuntime created")
    assert [c.change for c in result.changes] == [ChangeKind.CREATED] * 3
    assert len(result.health) == 3 and "serves" in result.health[1]
    order = [s.step for s in steps]
    assert order[:2] == [StepKind.DRY_RUN, StepKind.APPLIED] and order[-2:] == [
        StepKind.READY,
        StepKind.HEALTHY,
    ]
    assert StepKind.WAITING in order
    patches = stub.calls("PATCH")
    dry = [p for p in patches if p.query.get("dryRun") == "All"]
    assert len(dry) == 3 and patches[:3] == dry  # every dry run before any real apply
    assert all(p.content_type == "application/apply-patch+yaml" for p in patches)
    assert all(p.query["fieldManager"] == "predeploy" and p.query["force"] == "true" for p in patches)
    stored = stub.get(ISVC, NS, rendered.name)
    assert stored is not None and stored["spec"] == rendered.get("InferenceService").body["spec"]
    assert fake.now == 10.0  # two polls of 5 s before Ready


def test_applying_the_same_plan_twice_changes_nothing(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, rendered.served_model_name)
    deployer = _deployer(api, FakeTime())
    deployer.deploy(rendered)
    before = copy.deepcopy(stub.objects)
    real_applies = len(stub.calls("PATCH", dry_run=False))
    steps: list[Progress] = []

    second = deployer.deploy(rendered, progress=steps.append)

    assert not second.changed and all(c.change is ChangeKind.UNCHANGED for c in second.changes)
    assert len(stub.calls("PATCH", dry_run=False)) == real_applies
    assert StepKind.UNCHANGED in [s.step for s in steps]
    for key, obj in before.items():
        assert stub.objects[key]["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_dry_run_persists_nothing(kube) -> None:
    stub, api = kube
    result = _deployer(api, FakeTime()).deploy(_rendered(), dry_run=True)
    assert result.dry_run and [c.change for c in result.changes] == [ChangeKind.CREATED] * 3
    assert stub.objects == {} and stub.calls("PATCH", dry_run=False) == []


def test_a_failed_load_rolls_back_the_new_objects_and_says_why(kube) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(
        rendered.name, [loading_status(), failed_status("ModelLoadFailed", "CUDA out of memory")]
    )
    stub.add_event(
        NS, f"{rendered.name}-predictor-7d9f-x2", "FailedScheduling", "0/3 nodes have nvidia.com/gpu"
    )
    stub.add_event(NS, "someone-else-predictor-1", "BackOff", "not ours")
    stub.add_event(NS, rendered.name, "Created", "normal events are left out", kind="Normal")
    steps: list[Progress] = []

    with pytest.raises(RolledBackError) as caught:
        _deployer(api, FakeTime()).deploy(rendered, progress=steps.append)

    message = str(caught.value)
    assert "ModelLoadFailed" in message and "CUDA out of memory" in message and "FailedScheduling" in message
    assert "not ours" not in message and "normal events" not in message
    assert "deleted InferenceService" in message and "deleted ServingRuntime" in message
    assert stub.objects == {}
    assert steps[-1].step is StepKind.ROLLING_BACK


def test_a_failed_update_restores_the_previous_spec(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    old = _rendered()
    stub.script_status(old.name, [ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, old.served_model_name)
    _deployer(api, FakeTime()).deploy(old)
    previous_spec = copy.deepcopy(stub.get(ISVC, NS, old.name)["spec"])
    new = render(
        make_plan(option_dict(serving={"max_num_seqs": 512})),
        option_rank=1,
        gpu=gpu_by_id("H100-SXM"),
        settings=RenderSettings(namespace=NS),
    )
    stub.script_status(new.name, [failed_status("ModelLoadFailed", "KV cache does not fit")])

    with pytest.raises(RolledBackError, match="restored the previous InferenceService"):
        _deployer(api, FakeTime()).deploy(new)

    assert stub.get(ISVC, NS, old.name)["spec"] == previous_spec
    assert stub.get("servingruntimes", NS, old.name) is not None  # unchanged objects are left alone


def test_not_ready_by_the_deadline_rolls_back(kube) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [loading_status()])
    fake = FakeTime()
    with pytest.raises(RolledBackError, match=r"not Ready after 60 s.*PredictorReady is False"):
        _deployer(api, fake).deploy(rendered)
    assert fake.now == 60.0 and stub.objects == {}


def test_stale_ready_status_of_the_old_spec_is_not_trusted(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    stale = ready_status(httpserver.url_for("/")) | {"observedGeneration": 0}
    stub.script_status(rendered.name, [stale, stale, ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, rendered.served_model_name)
    fake = FakeTime()
    _deployer(api, fake).deploy(rendered)
    assert fake.now == 10.0


def test_an_unhealthy_endpoint_rolls_back(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, rendered.served_model_name, completion_status=500)
    with pytest.raises(RolledBackError, match=r"POST /v1/completions .* failed 2 times"):
        _deployer(api, FakeTime()).deploy(rendered)
    assert stub.objects == {}


def test_a_wrong_served_model_is_unhealthy(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, "some-other-model")
    with pytest.raises(RolledBackError, match="not served"):
        _deployer(api, FakeTime()).deploy(rendered)


def test_ready_without_url_fails_unless_health_is_skipped(kube) -> None:
    stub, api = kube
    rendered = _rendered()
    no_url = ready_status("")
    stub.script_status(rendered.name, [no_url])
    with pytest.raises(RolledBackError, match="no URL"):
        _deployer(api, FakeTime()).deploy(rendered)
    result = _deployer(api, FakeTime(), check_health=False).deploy(rendered)
    assert result.ready and result.health == ()


def test_server_errors_on_the_dry_run_are_transient_and_change_nothing(kube) -> None:
    stub, api = kube
    stub.fail("PATCH", dry_run=True, status=503)
    with pytest.raises(TransientDeployError, match="HTTP 503"):
        _deployer(api, FakeTime()).deploy(_rendered())
    assert stub.objects == {}


def test_a_rejected_dry_run_is_not_transient(kube) -> None:
    stub, api = kube
    stub.fail("PATCH", plural=ISVC, dry_run=True, status=422)
    with pytest.raises(RejectedError, match=r"refused to dry-run apply InferenceService .*HTTP 422"):
        _deployer(api, FakeTime()).deploy(_rendered())
    assert stub.objects == {}


def test_a_rejected_apply_rolls_back_what_was_applied(kube) -> None:
    stub, api = kube
    stub.fail("PATCH", plural=ISVC, dry_run=False, status=403)
    with pytest.raises(RolledBackError, match=r"HTTP 403.*deleted ServingRuntime"):
        _deployer(api, FakeTime()).deploy(_rendered())
    assert stub.objects == {}


def test_a_server_error_on_apply_rolls_back_and_stays_transient(kube) -> None:
    stub, api = kube
    stub.fail("PATCH", plural="podmonitors", dry_run=False, status=500)
    with pytest.raises(TransientDeployError):
        _deployer(api, FakeTime()).deploy(_rendered())
    assert stub.objects == {}


def test_status_read_errors_while_waiting_are_retried(kube, httpserver: HTTPServer) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [loading_status(), ready_status(httpserver.url_for("/"))])
    _serve_model(httpserver, rendered.served_model_name)
    deployer = _deployer(api, FakeTime())
    stub.fail("GET", plural=ISVC, status=500, times=2, skip=1)  # the read of what exists succeeds
    steps: list[Progress] = []
    result = deployer.deploy(rendered, progress=steps.append)
    assert result.ready
    assert any("status read failed" in s.message for s in steps)


def test_an_unreachable_api_server_is_transient(kube) -> None:
    from kubernetes import client as k8s

    stub, _ = kube
    stub.stop()
    api = k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9"))
    with pytest.raises(TransientDeployError, match="could not read ServingRuntime"):
        Deployer(api, options=ApplyOptions(request_timeout_s=2.0)).deploy(_rendered())


def test_undeploy_deletes_every_kind_and_skips_missing(kube) -> None:
    stub, api = kube
    rendered = _rendered()
    _deployer(api, FakeTime(), check_health=False).deploy(rendered, dry_run=True)
    for manifest in rendered.manifests[:2]:
        stub.put(manifest.info.plural, copy.deepcopy(manifest.body))
    deleted = _deployer(api, FakeTime()).undeploy(rendered.name, NS)
    assert [(c.kind, c.change) for c in deleted] == [
        ("InferenceService", ChangeKind.DELETED),
        ("ServingRuntime", ChangeKind.DELETED),
    ]
    assert stub.objects == {}
    assert _deployer(api, FakeTime()).undeploy(rendered.name, NS) == ()


def test_deploy_option_renders_validates_and_applies(kube) -> None:
    stub, api = kube
    result = deploy_option(
        make_plan(),
        option_rank=1,
        gpu=gpu_by_id("H100-SXM"),
        settings=RenderSettings(namespace=NS, plan_id="plan-1"),
        api_client=api,
        dry_run=True,
    )
    assert result.dry_run and len(result.changes) == 3 and stub.objects == {}


def test_a_missing_crd_names_what_to_install(kube) -> None:
    stub, api = kube
    stub.missing_kinds.add("podmonitors")
    with pytest.raises(
        RejectedError, match="install prometheus-operator, or deploy with --monitoring annotations"
    ):
        _deployer(api, FakeTime()).deploy(_rendered())
    assert stub.objects == {}


def test_an_unreachable_status_url_suggests_endpoint_or_skip_health(kube) -> None:
    stub, api = kube
    rendered = _rendered()
    stub.script_status(rendered.name, [ready_status("http://127.0.0.1:9")])
    with pytest.raises(RolledBackError, match="--endpoint .* or --skip-health"):
        _deployer(api, FakeTime()).deploy(rendered)
