"""Twenty conversations at once: each thread gets its own spec and options, nothing crosses over."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.conversation import Conversation, Services
from kb import threads as kb_threads
from tests.bot.harness import SlackUser, find_button
from tests.bot.slack_stub import SlackStub
from tests.bot.test_conversation_flow import text_of

N = 20


def wait_until(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_twenty_conversations_at_once_without_cross_talk(
    user: SlackUser, stub: SlackStub, services: Services
) -> None:
    people = [SlackUser(user.app, stub, user=f"U{i:02d}", channel=f"C{i % 4}") for i in range(N)]
    with ThreadPoolExecutor(N) as pool:
        acks = list(
            pool.map(lambda p: p[1].slash(f"support chatbot for {(p[0] + 1) * 100} users"), enumerate(people))
        )
    assert all(r.status == 200 for r in acks)
    wait_until(lambda: len(stub.of("chat.postMessage")) >= 2 * N)

    roots = {c.ts: c for c in stub.of("chat.postMessage") if "thread_ts" not in c.params}
    specs = [c for c in stub.of("chat.postMessage") if c.params.get("thread_ts") in roots]
    assert len(roots) == N and len(specs) == N
    for spec in specs:
        root = roots[spec.params["thread_ts"]]
        asker = re.search(r"<@(U\d\d)>", text_of(root)).group(1)  # type: ignore[union-attr]
        users = (int(asker[1:]) + 1) * 100
        assert f"*Users:* {users:,}" in text_of(spec), (asker, text_of(spec)[:200])
        assert spec.params["channel"] == root.params["channel"] == f"C{int(asker[1:]) % 4}"

    by_user = {re.search(r"<@(U\d\d)>", text_of(roots[s.params["thread_ts"]])).group(1): s for s in specs}  # type: ignore[union-attr]
    with ThreadPoolExecutor(N) as pool:
        list(pool.map(lambda p: p.click(by_user[p.user], "recommend"), people))
    wait_until(lambda: sum("option_choose" in text_of(c) for c in stub.of("chat.update")) >= N, timeout_s=120)

    plan_ids = set()
    for spec in specs:
        thread_id = find_button(spec, "recommend")["value"].split("|")[0]
        state = Conversation(services, thread_id).state()
        assert state.plan_id is not None and state.status == "PresentingOptions"
        with services.sessions() as session:
            plan = kb_threads.get_plan(session=session, plan_id=state.plan_id)
        assert plan is not None and plan["thread_id"] == thread_id
        assert plan["result"]["spec"]["user_count"] == state.spec["user_count"]  # type: ignore[index]
        plan_ids.add(state.plan_id)
    assert len(plan_ids) == N
    # every options message went to the thread whose plan it shows
    for update in (c for c in stub.of("chat.update") if "option_choose" in text_of(c)):
        plan_id = int(find_button(update, "option_choose")["value"].split("|")[0])
        with services.sessions() as session:
            plan = kb_threads.get_plan(session=session, plan_id=plan_id)
        progress = next(c for c in stub.of("chat.postMessage") if c.ts == update.ts)
        assert plan is not None and plan["thread_id"].endswith(progress.params["thread_ts"])
