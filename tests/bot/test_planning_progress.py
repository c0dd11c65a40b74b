"""Planning shows its progress per model from Slack's side: the progress message is edited in place
("Planning… 3 of 42 models: Llama-3.1-8B-Instruct on H100-SXM") with counts that only grow."""

from __future__ import annotations

import re

import pytest

from tests.bot.harness import SlackUser
from tests.bot.slack_stub import SlackStub
from tests.bot.test_conversation_flow import start_and_plan, text_of

PROGRESS = re.compile(r"Planning\\u2026 (\d+) of (\d+) models: ([^\"]+)")


def progress_counts(stub: SlackStub, ts: str) -> list[tuple[int, int, str]]:
    counts = []
    for call in stub.of("chat.update"):
        found = PROGRESS.search(text_of(call)) if call.ts == ts else None
        if found:
            counts.append((int(found[1]), int(found[2]), found[3]))
    return counts


def test_every_model_is_shown_when_updates_are_not_throttled(
    user: SlackUser, stub: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREDEPLOY_PROGRESS_EVERY_S", "0")
    _, options = start_and_plan(user, stub)
    counts = progress_counts(stub, options.ts)
    assert len(counts) >= 3, counts
    done = [d for d, _, _ in counts]
    total = counts[0][1]
    assert done == sorted(done) and done[-1] == total and {t for _, t, _ in counts} == {total}
    assert any(" on " in label and 0 < d < total for d, _, label in counts)  # "<model> on <GPU>"


def test_updates_are_throttled_to_one_per_half_second(user: SlackUser, stub: SlackStub) -> None:
    _, options = start_and_plan(user, stub)
    counts = progress_counts(stub, options.ts)
    # at most one edit per 0.5 s while planning (well under a second here), and the last always shows
    assert counts and counts[-1][0] == counts[-1][1], counts
    assert len(counts) <= max(3, counts[-1][1] // 4), counts
