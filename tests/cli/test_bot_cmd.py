"""`predeploy chat` (the conversation engine in a terminal) and `predeploy bot`'s settings checks."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli

runner = CliRunner()


def chat(lines: list[str], *args: str) -> tuple[int, str]:
    result = runner.invoke(build_cli(), ["chat", *args], input="\n".join(lines) + "\n")
    return result.exit_code, result.stdout


def test_a_whole_conversation_in_the_terminal(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("PREDEPLOY_ADMINS", "alice")
    code, out = chat(
        [
            "support chatbot for 1000 users, latency matters",
            "make it 5000 users",
            "plan",
            "details 1",
            "what if we use A100s?",
            "compare 1 and 2",
            "compare 1 and 99",
            "choose 1",
            "approve",
            "quit",
        ]
    )
    assert code == 0, out
    assert "Spec v1:" in out and "Spec v2:" in out and "Users: 5,000" in out
    assert re.search(r"planning… (\d+) of \1 models", out) and re.search(r"Top \d of \d+ options", out)
    assert "throughput" in out and "--max-model-len" in out  # details, with the engine's own flags
    assert "\n_" not in out and "_\n" not in out  # Slack's _italic_ markers do not reach the terminal
    assert "What if A100-80GB" in out and "Option 1" in out  # the comparison
    assert re.search(r"Option 1 +Option 2", out) and re.search(r"Difference +[+-]\$", out)  # two options
    assert "there is no option 99" in out
    assert "You chose:" in out and "approved by alice" in out


def test_bad_input_is_answered_and_the_chat_goes_on(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "bob")
    monkeypatch.delenv("PREDEPLOY_ADMINS", raising=False)
    code, out = chat(
        [
            "plan",  # no spec yet
            "a chatbot for 100000000000 users",  # absurd
            "a translation service for 300 users",
            "set user_count=-3",
            "set slo.ttft_ms=300",
            "choose 1",  # no plan yet
            "plan",
            "choose 1",
            "approve",  # not an admin
        ]
    )
    assert code == 0, out
    assert out.count("error:") >= 4
    assert "describe what you need first" in out or "no spec" in out
    assert "TTFT ≤ 300 ms" in out  # the valid edit
    assert "Only admins" in out


def test_a_chat_can_be_continued_later(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "carol")
    code, out = chat(["a summarization service for 200 users"])
    thread = re.search(r"--thread (\S+)\)", out).group(1)  # type: ignore[union-attr]
    code, out = chat(["make it 400 users", "spec"], "--thread", thread)
    assert code == 0 and "Spec v2:" in out and "Users: 400" in out
    code, out = chat([], "--thread", "cli:nope:x")
    assert code == 2 and "no chat" in (
        out + (runner.invoke(build_cli(), ["chat", "--thread", "cli:nope:x"]).stderr)
    )


def test_the_bot_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-your-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "changeme")
    monkeypatch.delenv("PREDEPLOY_ENV", raising=False)
    result = runner.invoke(build_cli(), ["bot", "--port", "0"])
    assert result.exit_code == 2
    assert "placeholder" in result.stderr and "SLACK_BOT_TOKEN" in result.stderr


def test_a_plan_with_no_option_says_what_would_give_one(seeded_env: str) -> None:
    """The advice first, the near misses with their model and GPU, and the models left out before
    sizing counted once per reason; 'compare 1 and 2' says there is nothing to compare."""
    code, out = chat(
        [
            "a coding assistant for 250 developers with Llama 3.1 70B on A100s, budget $1,000 a month",
            "plan",
            "compare 1 and 2",
            "what if we use fp8",
            "quit",
        ]
    )
    assert code == 0, out
    assert "No option meets the SLO." in out and "To get one: raise the budget to $" in out
    assert re.search(r"• Llama-3\.1-70B-Instruct on A100-80GB: .*budget", out)
    assert re.search(r"• \d+ models: not among the models asked for", out)
    assert out.count("not among the models asked for") == 1
    assert "there is nothing to compare: no option meets the SLO" in out
    assert "Now (no option)" in out and "What if fp8" in out


def test_set_takes_the_short_names_people_type_and_suggests_near_ones(seeded_env: str) -> None:
    code, out = chat(
        [
            "chatbot for 100 users",
            "set users=5000",  # user_count
            "set ttft 300",  # no '=': still one field and one value
            "set slo.ttftms=250",  # a typo: the near names
            "set users=x2",  # a factor of the spec's own value
            "quit",
        ]
    )
    assert code == 0, out
    assert "Users: 5,000" in out and "TTFT ≤ 300 ms" in out and "Users: 10,000" in out
    assert "unknown field 'slo.ttftms'; did you mean slo.ttft_ms" in out


def test_a_batch_spec_shows_its_load_not_users(seeded_env: str) -> None:
    code, out = chat(["translate 10k documents nightly", "quit"])
    assert code == 0, out
    assert "Use case: batch offline" in out and "Load: a batch job" in out and "Users:" not in out
