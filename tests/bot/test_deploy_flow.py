"""Approve → deploy, from Slack's side: slash command → Recommend → Choose → admin Approve, with the
workers' KUBECONFIG pointing at the loopback Kubernetes API and a health endpoint that answers.

The thread must show each step (dry run ok, applied, ready, healthy — or rolled back and why), the
cluster must receive the dry run before the apply, and the thread must end in Success or Failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bot.conversation import Conversation, Services, thread_id_for
from deploy.render import render
from kb import threads as kb_threads
from tests.bot.harness import SlackUser, find_button
from tests.bot.slack_stub import TEAM_ID, Call, SlackStub
from tests.bot.test_conversation_flow import _wait, start_and_plan, text_of
from tests.deploy.k8s_stub import KubeStub, failed_status, loading_status, ready_status, write_kubeconfig
from workers.deploy_job import render_settings
from workers.settings import load_settings

NAMESPACE = "team-a"


@pytest.fixture
def cluster(settings: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeStub]:
    """The Kubernetes API stub behind a real kubeconfig file, given to the (inline) workers."""
    del settings  # after the bot's settings fixture, which clears KUBECONFIG
    stub = KubeStub()
    url = stub.start()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(url, tmp_path / "kubeconfig")))
    monkeypatch.setenv("PREDEPLOY_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("PREDEPLOY_POLL_INTERVAL_S", "0.02")
    monkeypatch.setenv("PREDEPLOY_READY_TIMEOUT_S", "10")
    yield stub
    stub.stop()
    stub.stop()


def choose_first(user: SlackUser, stub: SlackStub) -> tuple[Call, Call, int]:
    """Plan, click Choose on option 1: (thread root, approval request, plan id)."""
    root, options = start_and_plan(user, stub)
    plan_id = int(find_button(options, "option_choose", contains="|1")["value"].split("|")[0])
    user.click(options, "option_choose", contains="|1")
    _wait(lambda: any("approve_option" in text_of(c) for c in stub.of("chat.postMessage")))
    request = next(c for c in stub.of("chat.postMessage") if "approve_option" in text_of(c))
    return root, request, plan_id


def conversation_of(services: Services, root: Call) -> Conversation:
    return Conversation(services, thread_id_for(TEAM_ID, root.params["channel"], root.ts))


def served_name(conversation: Conversation, services: Services, plan_id: int) -> tuple[str, str]:
    """(InferenceService name, served model name) of option 1, rendered as the deploy job will."""
    option, _ = conversation.option(plan_id, 1)
    rendered = render(
        conversation.load_plan(plan_id).result,
        option_rank=1,
        gpu=services.catalog().gpu(option.gpu_type),
        settings=render_settings(load_settings(), plan_id=plan_id, thread_id=conversation.thread_id),
    )
    return rendered.name, rendered.served_model_name


def thread_posts(stub: SlackStub, root: Call) -> list[str]:
    return [text_of(c) for c in stub.of("chat.postMessage") if c.params.get("thread_ts") == root.ts]


def final_update(stub: SlackStub, needle: str, timeout_s: float = 15.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for call in stub.of("chat.update"):
            if needle in text_of(call):
                return text_of(call)
        time.sleep(0.02)
    raise AssertionError(f"no update with {needle!r}; posts: {[text_of(c)[:120] for c in stub.calls]}")


def test_approve_deploys_and_the_thread_shows_each_step(
    user: SlackUser,
    stub: SlackStub,
    services: Services,
    cluster: KubeStub,
    httpserver: HTTPServer,
) -> None:
    root, request, plan_id = choose_first(user, stub)
    conversation = conversation_of(services, root)
    name, served = served_name(conversation, services, plan_id)
    url = httpserver.url_for("/").rstrip("/")
    cluster.script_status(name, [loading_status(), loading_status(), ready_status(url)])
    httpserver.expect_request("/health").respond_with_data("")
    httpserver.expect_request("/v1/models").respond_with_json({"data": [{"id": served}]})
    httpserver.expect_request("/v1/completions", method="POST").respond_with_json(
        {"choices": [{"text": "OK"}]}
    )

    # a non-admin's attempt is refused and stored on the approval record; nothing reaches the cluster
    user.click(request, "approve_option")
    _wait(lambda: any("Only admins" in c.params.get("text", "") for c in stub.of("chat.postEphemeral")))
    approval = conversation.approval(plan_id, 1)
    assert approval is not None and approval["decision"] == "pending"
    assert f"refused: <@{user.user}> tried to approve" in approval["reason"]
    assert cluster.requests == []

    admin = SlackUser(user.app, stub, user="U_ADMIN")
    admin.click(request, "approve_option")
    done = final_update(stub, "Deployed option 1")
    assert f"{name} in {NAMESPACE} is Ready at {url}" in done and "healthy" in done

    posts = thread_posts(stub, root)
    steps = ["Dry run ok", "Applied", "Ready", "Healthy"]
    at = [next(i for i, p in enumerate(posts) if step in p) for step in steps]
    assert at == sorted(at), posts
    assert any("Deploying option 1" in p and f"namespace {NAMESPACE}" in p for p in posts)

    # the cluster saw the dry run of every object first, then the applies, in the namespace setting
    patches = cluster.calls("PATCH")
    dry = [i for i, r in enumerate(patches) if r.query.get("dryRun") == "All"]
    real = [i for i, r in enumerate(patches) if r.query.get("dryRun") != "All"]
    assert dry and real and max(dry) < min(real)
    assert all(f"/namespaces/{NAMESPACE}/" in r.path for r in patches)
    isvc = cluster.get("inferenceservices", NAMESPACE, name)
    assert isvc is not None and isvc["metadata"]["labels"]["predeploy.io/plan-id"] == f"plan-{plan_id}"

    # the state machine went through to Success; the approval and the job are recorded
    _wait(lambda: conversation.state().status == "Success")
    approval = conversation.approval(plan_id, 1)
    assert approval is not None and approval["decision"] == "approved" and approval["decided_by"] == "U_ADMIN"
    assert "refused: <@U1>" in approval["reason"]  # the decision kept the refused attempt
    with services.sessions() as session:
        deploy_jobs = [j for j in kb_threads.list_jobs(session=session) if j["kind"] == "deploy"]
    _wait(lambda: _job_status(services) == "finished")
    assert deploy_jobs and deploy_jobs[0]["thread_id"] == conversation.thread_id


def _job_status(services: Services) -> str | None:
    with services.sessions() as session:
        jobs = [j for j in kb_threads.list_jobs(session=session) if j["kind"] == "deploy"]
    return jobs[0]["status"] if jobs else None


def test_a_failing_rollout_is_rolled_back_and_the_thread_says_why(
    user: SlackUser, stub: SlackStub, services: Services, cluster: KubeStub
) -> None:
    root, request, plan_id = choose_first(user, stub)
    conversation = conversation_of(services, root)
    name, _ = served_name(conversation, services, plan_id)
    cluster.script_status(name, [loading_status(), failed_status("ModelLoadFailed", "weights not found")])

    SlackUser(user.app, stub, user="U_ADMIN").click(request, "approve_option")
    done = final_update(stub, "rolled back")
    assert "failed and was rolled back" in done and "weights not found" in done and "deleted" in done

    posts = thread_posts(stub, root)
    assert any("Dry run ok" in p for p in posts) and any("Applied" in p for p in posts)
    assert any("Rolling back" in p for p in posts) and not any("Healthy" in p for p in posts)
    assert cluster.objects == {}  # what this deployment created was deleted
    _wait(lambda: conversation.state().status == "Failed")
