"""The conversation's jobs called directly (as RQ or the inline runner would), posting to a Slack stub."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from bot.conversation import Conversation, Services, open_thread
from bot.services import services_for
from tests.bot.slack_stub import SlackStub
from workers import jobs
from workers.settings import load_settings


@pytest.fixture
def stub(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStub]:
    s = SlackStub().start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-jobs-test")
    monkeypatch.setenv("SLACK_API_URL", s.api_url)
    for name in ("REDIS_URL", "OLLAMA_HOST", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield s
    s.stop()


@pytest.fixture
def conversation(stub: SlackStub) -> Conversation:
    services: Services = services_for(load_settings().database_url)
    state = open_thread(services, team_id="T1", channel_id="C9", thread_ts="1700000300.000001", user_id="U1")
    return Conversation(services, state.id)


def said(conversation: Conversation, text: str, ts: str = "1700000300.000001") -> int:
    conversation.store_message(user_id="U1", ts=ts, text=text)
    return conversation.refine(author="U1").version


def blocks_text(call: object) -> str:
    return json.dumps(call.params.get("blocks"))  # type: ignore[attr-defined]


def test_plan_thread_posts_progress_then_options_and_the_chart(
    stub: SlackStub, conversation: Conversation
) -> None:
    version = said(conversation, "support chatbot for 1000 users, latency matters")
    plan_id = jobs.plan_thread(conversation.thread_id, version, "")
    assert plan_id is not None
    progress = stub.of("chat.postMessage")[0]
    assert progress.params["thread_ts"] == "1700000300.000001" and "Planning spec v1" in blocks_text(progress)
    final = stub.of("chat.update")[-1]
    assert final.ts == progress.ts and f"{plan_id}|1" in blocks_text(final)
    assert any(
        re.search(r"Planning\\u2026 (\d+) of \1 models", blocks_text(c)) for c in stub.of("chat.update")[:-1]
    )
    assert stub.of("files.completeUploadExternal")[0].params["thread_ts"] == "1700000300.000001"
    assert conversation.state().status == "PresentingOptions"


def test_plan_thread_reuses_a_status_message_and_answers_user_errors_in_it(
    stub: SlackStub, conversation: Conversation
) -> None:
    assert jobs.plan_thread(conversation.thread_id, 1, "1700000300.000099") is None  # no spec yet
    assert stub.of("chat.postMessage") == []
    last = stub.of("chat.update")[-1]
    assert last.ts == "1700000300.000099" and "no spec yet" in blocks_text(last)


def test_whatif_thread_posts_a_comparison_or_a_suggestion(
    stub: SlackStub, conversation: Conversation
) -> None:
    said(conversation, "support chatbot for 1000 users")
    plan_id = conversation.plan().plan_id
    jobs.whatif_thread(
        conversation.thread_id, plan_id, 1, json.dumps({"gpu": "A100-80GB", "user_count": 3000})
    )
    comparison = stub.of("chat.postMessage")[-1]
    assert "What if A100-80GB, 3,000 users" in blocks_text(comparison) and "Option 1" in blocks_text(
        comparison
    )
    jobs.whatif_thread(conversation.thread_id, plan_id, 1, json.dumps({"gpu": "A100-80G"}))
    assert "did you mean" in blocks_text(stub.of("chat.postMessage")[-1])


def test_deploy_approved_says_deployment_is_not_configured(
    stub: SlackStub, conversation: Conversation
) -> None:
    said(conversation, "support chatbot for 1000 users")
    plan_id = conversation.plan().plan_id
    conversation.choose(plan_id, 1, user_id="U1")
    conversation.decide(plan_id, 1, user_id="UADMIN", approve=True)
    jobs.deploy_approved(plan_id, 1)
    text = blocks_text(stub.of("chat.postMessage")[-1])
    assert "Deployment is not configured" in text and f"--plan-id {plan_id}" in text


def test_spec_thread_falls_back_to_the_rules_when_ollama_is_down(
    stub: SlackStub, conversation: Conversation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # nothing listens there
    conversation.store_message(user_id="U1", ts="1700000300.000001", text="a chatbot for 700 users on H100")
    jobs.spec_thread(conversation.thread_id, "1700000300.000001")
    text = blocks_text(stub.of("chat.postMessage")[-1])
    assert "700" in text and "H100" in text and "rule-based extractor" in text


def test_deploy_approved_refuses_an_option_that_is_not_approved(
    stub: SlackStub, conversation: Conversation
) -> None:
    said(conversation, "support chatbot for 1000 users")
    plan_id = conversation.plan().plan_id
    conversation.choose(plan_id, 1, user_id="U1")  # pending, nobody approved
    jobs.deploy_approved(plan_id, 1)
    assert "is not approved; nothing was deployed" in blocks_text(stub.of("chat.postMessage")[-1])
    assert conversation.state().status == "ConfigurationFinalized"
