"""A whole conversation from Slack's side: slash command → spec → options → what-if → choice → approval,
driven by clicking the buttons the bot actually posted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.conversation import Conversation, Services
from bot.settings import BotSettings
from kb import threads as kb_threads
from tests.bot.harness import TEAM_ID, SlackUser, find_button
from tests.bot.slack_stub import Call, SlackStub

REQUEST = "support chatbot for 1000 users, latency matters"


def text_of(call: Call) -> str:
    return json.dumps(call.params.get("blocks") or call.params.get("text"))


def wait_options(stub: SlackStub, *, after: int = 0) -> Call:
    """The progress message, once updated with the options (it holds Choose buttons)."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for call in stub.of("chat.update")[after:]:
            if "option_choose" in text_of(call):
                return call
        time.sleep(0.02)
    raise AssertionError(f"no options posted; saw {[c.method for c in stub.calls]}")


def start_and_plan(user: SlackUser, stub: SlackStub, request: str = REQUEST) -> tuple[Call, Call]:
    user.slash(request)
    root, spec = stub.wait_for("chat.postMessage", count=2, channel=user.channel)[-2:]
    user.click(spec, "recommend")
    options = wait_options(stub)
    return root, options


def modal_values(**typed: str) -> dict[str, Any]:
    return {block: {"value": {"type": "plain_text_input", "value": value}} for block, value in typed.items()}


def test_from_slash_command_to_approval(user: SlackUser, stub: SlackStub, services: Services) -> None:
    root, options = start_and_plan(user, stub)

    # progress: the planning message was posted in the thread, then updated in place
    progress = [c for c in stub.of("chat.postMessage") if "Planning" in text_of(c)]
    assert progress and progress[0].params["thread_ts"] == root.ts
    assert options.ts == progress[0].ts and len(stub.of("chat.update")) >= 2
    blocks = options.params["blocks"]
    assert len(blocks) <= 50
    assert "TTFT p95" in text_of(options) and "/month" in text_of(options)

    # the chart was uploaded into the thread: upload URL, the PNG bytes, then completion in the thread
    complete = stub.wait_for("files.completeUploadExternal", timeout_s=15)[0]
    assert stub.of("files.getUploadURLExternal")[0].params["filename"] == "options.png"
    assert stub.of("upload")[0].body[:8] == b"\x89PNG\r\n\x1a\n"
    assert complete.params["thread_ts"] == root.ts and complete.params["channel_id"] == "C1"

    # Details: ephemeral, to the person who clicked
    user.click(options, "option_details", contains="|1")
    details = stub.wait_for("chat.postEphemeral")[0]
    assert details.params["user"] == user.user and "throughput" in text_of(details)

    # What if… (modal): A100s
    user.click(options, "option_whatif", contains="|1")
    view = stub.wait_for("views.open")[0].params["view"]
    assert user.submit(view, modal_values(whatif_gpu="a100 80gb")).status == 200
    _wait(lambda: whatifs(stub) == 1)
    compared = next(c for c in stub.of("chat.postMessage") if "What if" in text_of(c))
    assert compared.params["thread_ts"] == root.ts
    assert (
        "A100-80GB" in text_of(compared)
        and "Option 1" in text_of(compared)
        and "TTFT p95" in text_of(compared)
    )

    # What if… as a message in the thread
    user.say("what if we use H100s with 3000 users?", ts="1700000100.000001", thread_ts=root.ts)
    _wait(lambda: whatifs(stub) == 2)

    # Choose → approval request
    user.click(options, "option_choose", contains="|1")
    _wait(lambda: any("approve_option" in text_of(c) for c in stub.of("chat.postMessage")))
    request = next(c for c in stub.of("chat.postMessage") if "approve_option" in text_of(c))
    assert request.params["thread_ts"] == root.ts

    # a non-admin is refused, ephemerally, and nothing is decided
    user.click(request, "approve_option")
    refusal = stub.wait_for("chat.postEphemeral", count=2)[-1]
    assert "Only admins" in refusal.params["text"] and refusal.params["user"] == "U1"
    assert not any("approved" in text_of(c).lower() for c in stub.of("chat.update") if c.ts == request.ts)

    # an admin through the user group approves: the request is updated, the decision stored
    admin = SlackUser(user.app, stub, user="U_GROUP_ADMIN")
    admin.click(request, "approve_option")
    _wait(lambda: any(c.ts == request.ts for c in stub.of("chat.update")))
    decided = [c for c in stub.of("chat.update") if c.ts == request.ts][-1]
    assert "Approved by <@U_GROUP_ADMIN>" in text_of(decided)
    assert stub.wait_for("usergroups.users.list")[0].params["usergroup"] == "SADMINS"
    _wait(lambda: any("not configured" in text_of(c) for c in stub.of("chat.postMessage")))

    plan_id = int(find_button(options, "option_choose")["value"].split("|")[0])
    with services.sessions() as session:
        approval = kb_threads.get_approval(session=session, plan_id=plan_id, rank=1)
    assert (
        approval is not None
        and approval["decision"] == "approved"
        and approval["decided_by"] == "U_GROUP_ADMIN"
    )
    assert approval["requested_by"] == "U1" and approval["at"] is not None

    # a second click on Approve does not decide twice
    admin2 = SlackUser(user.app, stub, user="U_ADMIN")
    admin2.click(request, "approve_option")
    _wait(lambda: any("already approved" in text_of(c) for c in stub.of("chat.postMessage")))


def whatifs(stub: SlackStub) -> int:
    return len([c for c in stub.of("chat.postMessage") if "What if" in text_of(c)])


def _wait(predicate: Any, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_double_clicking_recommend_plans_once(user: SlackUser, stub: SlackStub) -> None:
    user.slash(REQUEST)
    spec = stub.wait_for("chat.postMessage", count=2)[1]
    user.click(spec, "recommend")
    user.click(spec, "recommend")
    wait_options(stub)
    from tests.bot.test_slack_rules import stub_calls_settle

    stub_calls_settle(stub)
    assert len([c for c in stub.of("chat.postMessage") if "Planning" in text_of(c)]) == 1
    user.click(spec, "recommend")  # once more, later: told where the options are, nothing re-planned
    told = stub.wait_for("chat.postEphemeral")[0]
    assert "already planned" in told.params["text"] and told.params["user"] == user.user
    assert len([c for c in stub.of("chat.postMessage") if "Planning" in text_of(c)]) == 1


def test_a_restart_in_the_middle_of_a_thread(settings: BotSettings, stub: SlackStub) -> None:
    from bot.app import build_app
    from bot.services import open_services

    first = SlackUser(build_app(settings), stub)
    root, old_options = start_and_plan(first, stub)
    # a new process: a new app and new services on the same database; the user carries on in Slack
    second = SlackUser(build_app(settings), stub)
    second.say("make it 5000 users", ts="1700000200.000001", thread_ts=root.ts)
    _wait(lambda: any("version 2" in text_of(c) for c in stub.of("chat.postMessage")))
    v2 = next(c for c in stub.of("chat.postMessage") if "version 2" in text_of(c))
    assert "5,000" in text_of(v2) and v2.params["thread_ts"] == root.ts

    # the old options are stale now: choosing one says so instead of approving a plan for the old spec
    second.click(old_options, "option_choose", contains="|2")
    _wait(lambda: any("earlier spec" in text_of(c) for c in stub.of("chat.postMessage")))

    updates = len(stub.of("chat.update"))
    second.click(v2, "recommend")
    options = wait_options(stub, after=updates)
    second.click(options, "option_choose", contains="|2")
    _wait(lambda: any("approve_option" in text_of(c) for c in stub.of("chat.postMessage")))
    state = Conversation(open_services(settings.database_url), f"T1:C1:{root.ts}").state()
    assert state.status == "ConfigurationFinalized" and state.chosen_rank == 2 and state.spec_version == 2
    assert state.plan_id == int(find_button(options, "option_choose")["value"].split("|")[0]) == 2


def test_an_approval_request_that_was_superseded_cannot_be_approved(user: SlackUser, stub: SlackStub) -> None:
    root, options = start_and_plan(user, stub)
    user.click(options, "option_choose", contains="|1")
    _wait(lambda: any("approve_option" in text_of(c) for c in stub.of("chat.postMessage")))
    first = next(c for c in stub.of("chat.postMessage") if "approve_option" in text_of(c))
    user.click(options, "option_choose", contains="|2")  # the requester changes their mind
    _wait(lambda: len([c for c in stub.of("chat.postMessage") if "approve_option" in text_of(c)]) == 2)
    admin = SlackUser(user.app, stub, user="U_ADMIN")
    admin.click(first, "approve_option")
    _wait(lambda: any("out of date" in text_of(c) for c in stub.of("chat.postMessage")))
    assert not [c for c in stub.of("chat.update") if c.ts == first.ts]
    assert root.ts


@pytest.mark.postgres
@pytest.mark.slow
def test_the_whole_path_on_postgresql(pg_url: str, stub: SlackStub, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import build_app
    from bot.services import forget as forget_services
    from bot.services import open_services
    from tests.bot.conftest import wait_for_inline_jobs
    from tests.bot.harness import SECRET, TOKEN
    from workers.records import forget as forget_records

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", stub.api_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = BotSettings(
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=stub.api_url,
        admins=("U_ADMIN",),
        database_url=pg_url,
    )
    services = open_services(pg_url)
    try:
        user = SlackUser(build_app(settings, services=services), stub)
        start_and_plan(user, stub)
        options = wait_options(stub)
        user.click(options, "option_choose", contains="|1")
        _wait(lambda: any("approve_option" in text_of(c) for c in stub.of("chat.postMessage")))
        request = next(c for c in stub.of("chat.postMessage") if "approve_option" in text_of(c))
        SlackUser(user.app, stub, user="U_ADMIN").click(request, "approve_option")
        _wait(lambda: any("not configured" in text_of(c) for c in stub.of("chat.postMessage")))
        wait_for_inline_jobs()
    finally:
        services.close()
        forget_services()
        forget_records()


def test_whatif_messages_in_words_or_as_key_value(user: SlackUser, stub: SlackStub) -> None:
    root, _ = start_and_plan(user, stub)
    user.say("what if gpu=L40S, ttft_ms=300?", ts="1700000500.000001", thread_ts=root.ts)
    _wait(lambda: whatifs(stub) == 1)
    assert "L40S, TTFT 300 ms" in text_of(
        next(c for c in stub.of("chat.postMessage") if "What if" in text_of(c))
    )
    user.say("what if colour=blue", ts="1700000500.000002", thread_ts=root.ts)
    _wait(lambda: any("unknown what-if key" in text_of(c) for c in stub.of("chat.postMessage")))
    user.say("what if it were nicer?", ts="1700000500.000003", thread_ts=root.ts)
    _wait(lambda: any("could not tell what to change" in text_of(c) for c in stub.of("chat.postMessage")))


def test_a_relative_whatif_scales_the_plans_own_traffic(user: SlackUser, stub: SlackStub) -> None:
    """'what about 10x the users?' compares with ten times the plan's users, not with 10 users."""
    root, _ = start_and_plan(user, stub)
    user.say("what about 10x the users?", ts="1700000550.000001", thread_ts=root.ts)
    _wait(lambda: whatifs(stub) == 1)
    table = next(c for c in stub.of("chat.postMessage") if "What if" in text_of(c))
    assert table.params["text"] == "What if 10× users?"
    user.say("what if half the budget?", ts="1700000550.000002", thread_ts=root.ts)
    _wait(lambda: any("no budget to scale" in text_of(c) for c in stub.of("chat.postMessage")))


def test_a_refinement_scales_the_threads_users_and_keeps_its_exclusions(
    user: SlackUser, stub: SlackStub, services: Services
) -> None:
    """'RAG for 400 engineers, no AMD', then 'make it 10x the users': version 2 plans 4,000 users and
    still rules out every AMD GPU; a nightly batch job gets the batch template."""
    user.slash("RAG assistant over our internal docs for 400 engineers, no AMD")
    root, _ = stub.wait_for("chat.postMessage", count=2, channel=user.channel)[-2:]
    user.say("make it 10x the users", ts="1700000900.000001", thread_ts=root.ts)
    _wait(lambda: any("(version 2)" in text_of(c) for c in stub.of("chat.postMessage")))
    with services.sessions() as session:
        key = kb_threads.thread_key(TEAM_ID, user.channel, root.ts)
        version, spec = kb_threads.latest_spec(session=session, thread_id=key)
    assert version == 2 and spec["user_count"] == 4000 and spec["use_case"] == "document_analysis_rag"
    assert spec["excluded_gpu_types"] == ["MI300X"]
    user.slash("translate 10k product listings nightly")
    _wait(
        lambda: any("batch" in text_of(c) and "version 1" in text_of(c) for c in stub.of("chat.postMessage"))
    )


def test_a_message_that_changes_nothing_keeps_the_spec_version_and_says_why(
    user: SlackUser, stub: SlackStub, services: Services
) -> None:
    user.slash(REQUEST)
    root, _ = stub.wait_for("chat.postMessage", count=2, channel=user.channel)[-2:]
    user.say("what if gpu=H999", ts="1700000600.000001", thread_ts=root.ts)
    _wait(
        lambda: any("no plan yet to ask a what-if about" in text_of(c) for c in stub.of("chat.postMessage"))
    )
    user.say("use an H999 gpu please", ts="1700000600.000002", thread_ts=root.ts)
    _wait(lambda: any("I found no GPU, model" in text_of(c) for c in stub.of("chat.postMessage")))
    with services.sessions() as session:
        key = kb_threads.thread_key(TEAM_ID, user.channel, root.ts)
        assert kb_threads.latest_spec(session=session, thread_id=key)[0] == 1  # still the first version
    user.say("make it 5000 users", ts="1700000600.000003", thread_ts=root.ts)
    _wait(
        lambda: any(
            "(version 2)" in text_of(c) and "5,000" in text_of(c) for c in stub.of("chat.postMessage")
        )
    )


def test_a_whatif_is_a_question_not_a_change_to_the_spec(
    user: SlackUser, stub: SlackStub, services: Services
) -> None:
    """'what if we use L40S with TTFT 200 ms?' compares; the next refinement keeps the spec's own GPUs
    and SLO."""
    root, _ = start_and_plan(user, stub)
    user.say("what if we use L40S with TTFT 200 ms?", ts="1700000700.000001", thread_ts=root.ts)
    _wait(lambda: whatifs(stub) == 1)
    user.say("make it 5000 users", ts="1700000700.000002", thread_ts=root.ts)
    _wait(lambda: any("(version 2)" in text_of(c) for c in stub.of("chat.postMessage")))
    with services.sessions() as session:
        key = kb_threads.thread_key(TEAM_ID, user.channel, root.ts)
        version, spec = kb_threads.latest_spec(session=session, thread_id=key)
        state = kb_threads.get_thread(session=session, thread_id=key)
    assert version == 2 and spec["user_count"] == 5000
    assert spec["preferred_gpu_types"] == []  # the template's, not the what-if's
    assert spec["slo"]["ttft_ms"] == 500
    assert state.messages == (REQUEST, "make it 5000 users")


def test_compare_two_options_side_by_side(user: SlackUser, stub: SlackStub, services: Services) -> None:
    root, _ = start_and_plan(user, stub)
    user.say("compare options 1 and 2", ts="1700000800.000001", thread_ts=root.ts)
    _wait(lambda: any("Option 1 vs option 2" in text_of(c) for c in stub.of("chat.postMessage")))
    table = next(c for c in stub.of("chat.postMessage") if "Option 1 vs option 2" in text_of(c))
    assert "Holds" in text_of(table) and "Difference" in text_of(table)
    user.say("compare 1 and 42", ts="1700000800.000002", thread_ts=root.ts)
    _wait(lambda: any("there is no option 42" in text_of(c) for c in stub.of("chat.postMessage")))
    with services.sessions() as session:
        key = kb_threads.thread_key(TEAM_ID, user.channel, root.ts)
        assert kb_threads.get_thread(session=session, thread_id=key).messages == (REQUEST,)
