"""The deploy job called directly (as RQ or the inline runner would), against the Kubernetes API stub
behind a real kubeconfig: retries after transient failures, a thread that moved on, no cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.conversation import Conversation
from deploy.errors import TransientDeployError
from tests.bot.slack_stub import SlackStub
from tests.deploy.k8s_stub import KubeStub, ready_status
from tests.workers.test_jobs_conversation import blocks_text, conversation, said, stub
from workers import jobs
from workers.settings import SettingsError, load_settings

__all__ = ["conversation", "stub"]  # fixtures


@pytest.fixture
def cluster(stub: SlackStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeStub]:
    kube = KubeStub()
    url = kube.start()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stub", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "tester"}}],
        "current-context": "stub",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("PREDEPLOY_POLL_INTERVAL_S", "0.01")
    monkeypatch.setenv("PREDEPLOY_SKIP_HEALTH", "1")  # the status URL below answers nothing
    yield kube
    kube.stop()


def approved(conversation: Conversation, rank: int = 1) -> int:
    said(conversation, "support chatbot for 1000 users")
    plan_id = conversation.plan().plan_id
    conversation.choose(plan_id, rank, user_id="U1")
    conversation.decide(plan_id, rank, user_id="UADMIN", approve=True)
    return plan_id


def posts(stub: SlackStub) -> list[str]:
    return [blocks_text(c) for c in stub.of("chat.postMessage")]


def test_a_transient_failure_is_retried_by_the_job_system_and_the_retry_deploys(
    stub: SlackStub, conversation: Conversation, cluster: KubeStub
) -> None:
    plan_id = approved(conversation)
    cluster.fail("PATCH", dry_run=True, status=503, times=1)
    with pytest.raises(TransientDeployError):
        jobs.deploy_approved(plan_id, 1)
    assert "The job will try again" in blocks_text(stub.of("chat.update")[-1])
    assert conversation.state().status == "Failed"
    assert cluster.calls("PATCH", dry_run=False) == []

    name = _isvc_name(cluster)
    cluster.script_status(name, [ready_status("http://isvc.team.example")])
    summary = jobs.deploy_approved(plan_id, 1)  # what RQ's retry runs
    assert summary is not None and "applied" in summary
    assert conversation.state().status == "Success"
    final = blocks_text(stub.of("chat.update")[-1])
    assert "Deployed option 1" in final and "health check skipped" in final
    assert any("Dry run ok" in p for p in posts(stub)) and any("Ready" in p for p in posts(stub))


def _isvc_name(cluster: KubeStub) -> str:
    """The InferenceService name the job looked up before its dry run (from the recorded request path)."""
    path = next(r.path for r in cluster.calls("GET", plural="inferenceservices"))
    return path.rsplit("/", 1)[-1]


def test_an_approval_the_thread_moved_on_from_deploys_nothing(
    stub: SlackStub, conversation: Conversation, cluster: KubeStub
) -> None:
    plan_id = approved(conversation)
    conversation.choose(plan_id, 2, user_id="U1")  # a new choice replaces the approved one
    assert jobs.deploy_approved(plan_id, 1) is None
    assert "no longer the thread's choice" in posts(stub)[-1]
    assert cluster.requests == [] and conversation.state().status == "ConfigurationFinalized"


def test_no_cluster_fails_the_thread_with_the_fix(
    stub: SlackStub, conversation: Conversation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = approved(conversation)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    jobs.deploy_approved(plan_id, 1)
    final = blocks_text(stub.of("chat.update")[-1])
    assert "no cluster to deploy to" in final and "KUBECONFIG" in final
    assert conversation.state().status == "Failed"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("PREDEPLOY_POLL_INTERVAL_S", "soon", "not a number of seconds"),
        ("PREDEPLOY_READY_TIMEOUT_S", "0", "at least 1"),
        ("PREDEPLOY_PROGRESS_EVERY_S", "nan", "at least 0"),
    ],
)
def test_bad_deploy_settings_say_which_and_what_to_give(name: str, value: str, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle) as info:
        load_settings({name: value})
    assert name in str(info.value)


def test_deploy_settings_are_read_from_the_environment() -> None:
    settings = load_settings(
        {"PREDEPLOY_NAMESPACE": "team-a", "PREDEPLOY_SKIP_HEALTH": "yes", "PREDEPLOY_KUBE_CONTEXT": "prod"}
    )
    assert (settings.namespace, settings.deploy_check_health, settings.kube_context) == (
        "team-a",
        False,
        "prod",
    )
    assert load_settings({}).namespace == "default" and load_settings({}).deploy_check_health
