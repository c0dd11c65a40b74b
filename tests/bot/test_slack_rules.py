"""Slack's rules, from Slack's side: signatures, acks, retries, DMs, modal validation, health."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from bot.app import build_app, make_http_server
from bot.conversation import Conversation, Services
from bot.settings import BotSettings
from tests.bot.harness import SlackUser, find_button
from tests.bot.slack_stub import SlackStub

REQUEST = "support chatbot for 1000 users, latency matters"


def test_a_bad_signature_is_refused_with_401_and_nothing_is_posted(user: SlackUser) -> None:
    response = user.send(
        "command=%2Fpredeploy&text=hi", content_type="application/x-www-form-urlencoded", secret="wrong"
    )
    assert response.status == 401
    assert user.stub.of("chat.postMessage") == []


def test_an_empty_command_is_answered_with_usage_and_starts_nothing(user: SlackUser) -> None:
    response = user.slash("   ")
    assert response.status == 200
    assert "Describe what you need" in str(response.body)
    assert user.stub.of("chat.postMessage") == []


def test_help_is_answered_with_what_to_type_and_starts_nothing(user: SlackUser) -> None:
    response = user.slash("help")
    assert response.status == 200
    body = str(response.body)
    assert "Describe what you need" in body and "compare 1 and 2" in body and "Recommend" in body
    assert user.stub.of("chat.postMessage") == []


def test_help_in_a_thread_answers_there_and_changes_nothing(user: SlackUser) -> None:
    user.slash(REQUEST)
    root, _ = user.stub.wait_for("chat.postMessage", count=2)
    user.say("help?", ts="1700001000.000001", thread_ts=root.ts)
    answer = user.stub.wait_for("chat.postMessage", count=3)[-1]
    assert answer.params["thread_ts"] == root.ts and "compare 1 and 2" in json.dumps(answer.params)
    assert "version 2" not in json.dumps([c.params for c in user.stub.of("chat.postMessage")])
    user.say("help?", ts="1700001000.000001", thread_ts=root.ts)  # Slack's retry of the same event
    user.say("make it 5000 users", ts="1700001000.000002", thread_ts=root.ts)
    refined = user.stub.wait_for("chat.postMessage", count=4)[-1]
    assert sum("compare 1 and 2" in json.dumps(c.params) for c in user.stub.of("chat.postMessage")) == 1
    assert "version 2" in json.dumps(refined.params)  # help was not a request: the next one is v2


def test_the_slash_command_posts_a_root_then_the_spec_in_its_thread(user: SlackUser) -> None:
    assert user.slash(REQUEST).status == 200
    root, spec = user.stub.wait_for("chat.postMessage", count=2)
    assert "thread_ts" not in root.params and REQUEST in json.dumps(root.params["blocks"])
    assert spec.params["thread_ts"] == root.ts
    text = json.dumps(spec.params["blocks"])
    assert "1,000" in text and "chatbot" in text
    assert find_button(spec, "review_spec")["value"].endswith("|1")
    assert find_button(spec, "recommend")


def test_a_retried_event_gets_one_reply(user: SlackUser, stub: SlackStub) -> None:
    user.mention(REQUEST, ts="1700000000.000100")
    stub.wait_for("chat.postMessage", count=1)
    for retry in (1, 2):
        assert user.mention(REQUEST, ts="1700000000.000100", retry=retry).status == 200
    # the same message also arrives as message.channels in a thread the bot now holds: still one reply
    user.say(f"<@UBOT> {REQUEST}", ts="1700000000.000100", thread_ts="1700000000.000100")
    user.say("make it 5000 users", ts="1700000000.000200", thread_ts="1700000000.000100")
    specs = stub.wait_for("chat.postMessage", count=2)
    stub_calls_settle(stub)
    assert len(stub.of("chat.postMessage")) == 2
    assert "5,000" in json.dumps(specs[1].params["blocks"])


def stub_calls_settle(stub: SlackStub, *, quiet_s: float = 0.3) -> None:
    """Wait until the bot has sent nothing for `quiet_s` (so that a second reply would have shown)."""
    import time

    seen = -1
    while seen != len(stub.calls):
        seen = len(stub.calls)
        time.sleep(quiet_s)


def test_a_direct_message_starts_a_conversation_and_channel_chatter_is_ignored(
    user: SlackUser, stub: SlackStub
) -> None:
    user.say("just chatting, not for the bot", ts="1700000001.000001")
    user.say("a translation service for 300 users", ts="1700000001.000002", im=True)
    reply = stub.wait_for("chat.postMessage")[0]
    stub_calls_settle(stub)
    assert len(stub.of("chat.postMessage")) == 1
    assert reply.params["thread_ts"] == "1700000001.000002" and "300" in json.dumps(reply.params["blocks"])


def test_the_bot_ignores_its_own_messages(user: SlackUser, stub: SlackStub) -> None:
    user.send(
        json.dumps(
            {
                "type": "event_callback",
                "team_id": "T1",
                "event_id": "E1",
                "api_app_id": "A1",
                "event": {
                    "type": "message",
                    "channel": "C1",
                    "channel_type": "im",
                    "bot_id": "BBOT",
                    "text": "a chatbot for 10 users",
                    "ts": "1700000002.000001",
                },
            }
        ),
        content_type="application/json",
    )
    stub_calls_settle(stub)
    assert stub.of("chat.postMessage") == []


def _open_spec_modal(user: SlackUser, stub: SlackStub) -> dict:
    user.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2)[1]
    user.click(spec, "review_spec")
    return stub.wait_for("views.open")[0].params["view"]


def test_the_review_modal_has_an_input_per_field_prefilled(user: SlackUser, stub: SlackStub) -> None:
    view = _open_spec_modal(user, stub)
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    for field in (
        "use_case",
        "user_count",
        "traffic.peak_qps",
        "slo.ttft_ms",
        "slo.percentile",
        "priorities.latency",
        "preferred_gpu_types",
        "preferred_models",
        "budget_usd_month",
        "max_gpus",
    ):
        assert field in inputs
    assert inputs["user_count"]["initial_value"] == "1000"
    assert inputs["slo.percentile"]["initial_option"]["value"] == "p95"
    assert len(view["blocks"]) <= 100 and len(view["title"]["text"]) <= 24


def _values(view: dict, **typed: str) -> dict:
    """The state Slack sends back: the prefilled values, with `typed` replacing some (keys use __ for .)."""
    values = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        key = block["block_id"].replace(".", "__")
        if element["type"] == "static_select":
            chosen = typed.get(key, (element.get("initial_option") or {}).get("value"))
            state = {"type": "static_select", "selected_option": {"value": chosen} if chosen else None}
        else:
            state = {"type": element["type"], "value": typed.get(key, element.get("initial_value"))}
        values[block["block_id"]] = {"value": state}
    return values


def test_invalid_modal_input_returns_errors_per_field_and_keeps_the_spec(
    user: SlackUser, stub: SlackStub
) -> None:
    view = _open_spec_modal(user, stub)
    response = user.submit(
        view, _values(view, user_count="-5", slo__ttft_ms="abc", preferred_gpu_types="H100-80G")
    )
    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"user_count", "slo.ttft_ms", "preferred_gpu_types"}
    assert "did you mean" in body["errors"]["preferred_gpu_types"]  # a suggestion, not just "unknown"
    assert len(stub.of("chat.postMessage")) == 2  # nothing new posted; spec v1 still stands

    ok = user.submit(view, _values(view, user_count="5000", preferred_gpu_types="h100"))
    assert ok.status == 200 and not ok.body
    v2 = stub.wait_for("chat.postMessage", count=3)[2]
    text = json.dumps(v2.params["blocks"])
    assert "version 2" in text and "5,000" in text and "H100" in text


def test_healthz_and_a_real_http_round_trip(settings: BotSettings, stub: SlackStub) -> None:
    server = make_http_server(build_app(settings), host="127.0.0.1", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert httpx.get(base + "/healthz").text == "ok"
        user = SlackUser(build_app(settings), stub, http_url=base + "/slack/events")
        assert user.slash(REQUEST).status == 200
        assert (
            user.send("command=x", content_type="application/x-www-form-urlencoded", secret="bad").status
            == 401
        )
        stub.wait_for("chat.postMessage", count=2)
    finally:
        server.shutdown()
        server.server_close()


def test_a_channel_the_bot_cannot_post_in_gets_an_ephemeral_hint(user: SlackUser, stub: SlackStub) -> None:
    stub.fail["chat.postMessage"] = "not_in_channel"
    assert user.slash(REQUEST).status == 200
    hint = stub.wait_for("response")[0]
    assert "/invite" in hint.params["text"] and "not_in_channel" in hint.params["text"]


def test_a_failure_is_reported_in_the_thread_with_a_reference(user: SlackUser, stub: SlackStub) -> None:
    stub.fail["views.open"] = "expired_trigger_id"
    user.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2)[1]
    user.click(spec, "review_spec")
    error = stub.wait_for("chat.postMessage", count=3)[2]
    assert error.params["thread_ts"] == spec.params["thread_ts"]
    assert "reference:" in json.dumps(error.params["blocks"]) and "ref" in error.params["text"]


def test_an_unhandled_error_is_logged_with_its_traceback(
    user: SlackUser, caplog: pytest.LogCaptureFixture
) -> None:
    view = {
        "id": "V1",
        "type": "modal",
        "callback_id": "spec_modal",
        "private_metadata": "not json",
        "blocks": [],
    }
    response = user.submit(view, {})
    assert response.status == 500
    assert any(r.exc_info for r in caplog.records if r.levelname == "ERROR")


def test_a_stale_or_forged_button_is_answered_not_crashed(user: SlackUser, stub: SlackStub) -> None:
    user.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2)[1]
    spec.params["blocks"][-1]["elements"][1]["value"] = "garbage"
    user.click(spec, "recommend")
    error = stub.wait_for("chat.postMessage", count=3)[2]
    assert "out of date" in json.dumps(error.params["blocks"])


def test_when_the_queue_is_down_the_request_is_kept_and_can_be_retried(
    settings: BotSettings, stub: SlackStub, services: Services
) -> None:
    from dataclasses import replace

    down = SlackUser(build_app(replace(settings, redis_url="redis://127.0.0.1:9/0"), services=services), stub)
    down.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2)[1]
    down.click(spec, "recommend")
    error = stub.wait_for("chat.postMessage", count=3)[2]
    text = json.dumps(error.params["blocks"])
    assert "unavailable" in text and "retry_request" in text
    thread_id = find_button(spec, "recommend")["value"].split("|")[0]
    assert Conversation(services, thread_id).spec()[0] == 1  # the spec is still there to plan later

    # the queue is back (here: inline jobs); Retry plans the same spec version
    up = SlackUser(build_app(settings, services=services), stub)
    up.click(error, "retry_request")
    stub.wait_for("chat.update", count=2, timeout_s=15)
    assert stub.of("chat.delete")  # the error message with the stale button goes away


def test_socket_mode_requests_need_no_signature(user: SlackUser, stub: SlackStub) -> None:
    from slack_bolt import BoltRequest

    body = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": "EvSocket1",
        "event": {
            "type": "message",
            "channel": "D1",
            "channel_type": "im",
            "user": "U1",
            "text": "a code completion service for 50 developers",
            "ts": "1700000400.000001",
        },
    }
    assert user.app.dispatch(BoltRequest(body=body, mode="socket_mode")).status == 200
    reply = stub.wait_for("chat.postMessage")[0]
    assert reply.params["channel"] == "D1" and "50" in json.dumps(reply.params["blocks"])


def test_with_ollama_configured_the_spec_is_read_in_a_job_and_falls_back_saying_why(
    settings: BotSettings, stub: SlackStub, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # the job reads it; nothing listens there
    user = SlackUser(build_app(replace(settings, ollama_host="http://127.0.0.1:9"), services=services), stub)
    user.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2, timeout_s=15)[1]
    text = json.dumps(spec.params["blocks"])
    assert "1,000" in text and "rule-based extractor" in text and "LLM" in text
