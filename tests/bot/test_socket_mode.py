"""Socket Mode end to end over loopback: the real bot (run_socket_mode, and `predeploy bot --socket` in a
subprocess) on slack_sdk's real Socket Mode client, against a stand-in for Slack's side speaking the real
protocol (apps.connections.open with the app-level token, then a WebSocket with hello, envelopes, acks
and disconnects; see tests/bot/socket_stub.py). Replies go to the Web API stub, as in HTTP mode."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from slack_bolt import App, BoltResponse

from bot.app import SocketModeError, build_app, connect_socket_mode
from bot.conversation import Services
from bot.listeners.commands.predeploy import USAGE
from bot.settings import BotSettings
from tests.bot.conftest import wait_for_inline_jobs
from tests.bot.harness import TOKEN, SlackUser, find_button, slash_body
from tests.bot.socket_stub import APP_ID, APP_TOKEN, Ack, SocketModeServer, SocketModeSlackStub
from tests.bot.test_conversation_flow import text_of, wait_options
from workers.enqueue import forget_inline

REQUEST = "support chatbot for 1000 users, latency matters"
PING_S = 0.3  # the client's ping interval here: how soon it notices a closed socket (production: 5 s)
ACK_LIMIT_S = 3.0  # Slack's deadline for acking an envelope


@dataclass
class SocketUser(SlackUser):
    """A SlackUser whose requests travel as Socket Mode envelopes instead of signed HTTP requests:
    slash commands as `slash_commands`, clicks and modal submissions as `interactive`, events as
    `events_api`. Each send waits for the client's ack and returns it as the response."""

    socket: SocketModeServer | None = None
    acks: list[Ack] = field(default_factory=list)

    def send(
        self, body: str, *, content_type: str, retry: int | None = None, secret: str = ""
    ) -> BoltResponse:
        assert self.socket is not None
        if content_type == "application/json":
            kind, payload, replies = "events_api", json.loads(body), False
        else:
            form = dict(parse_qsl(body))
            if "payload" in form:
                payload = json.loads(form["payload"])
                kind, replies = "interactive", payload["type"] == "view_submission"
            else:
                kind, payload, replies = "slash_commands", {**form, "api_app_id": APP_ID}, True
        envelope_id = self.socket.send(kind, payload, accepts_response_payload=replies, retry_attempt=retry)
        ack = self.socket.wait_ack(envelope_id, timeout_s=ACK_LIMIT_S)
        self.acks.append(ack)
        response = BoltResponse(status=200, body=json.dumps(ack.payload) if ack.payload else "")
        self.responses.append(response)
        return response


@pytest.fixture
def stub() -> Iterator[SocketModeSlackStub]:
    """The Web API stub with Socket Mode (overrides tests/bot/conftest.py's, so `settings` points here)."""
    forget_inline()
    s = SocketModeSlackStub(usergroups={"SADMINS": ["U_GROUP_ADMIN"]}).start()
    yield s
    wait_for_inline_jobs()
    s.stop()


def _socket_threads() -> set[threading.Thread]:
    """Threads other than the app's pools and jobs (those live as long as the app, as in HTTP mode)."""
    keep = ("listener", "work", "job-")
    return {t for t in threading.enumerate() if not t.name.startswith(keep)}


@pytest.fixture
def bot(settings: BotSettings, services: Services, stub: SocketModeSlackStub) -> Iterator[App]:
    """The real app on a Socket Mode connection opened by connect_socket_mode (what run_socket_mode
    does before it waits; `predeploy bot --socket` below runs that whole path); no thread outlives it."""
    app = build_app(settings, services=services)
    before = _socket_threads()
    handler = connect_socket_mode(app, APP_TOKEN, ping_interval_s=PING_S)
    yield app
    # slack_sdk's close() waits for the socket's pending read (up to 3 s) unless the server hangs up,
    # as Slack does when a client goes, and for its message queue's poll (1 s) unless a message comes:
    # once the client has stopped reconnecting, hang up and wake the queue
    closing = threading.Thread(target=handler.close, name="socket-mode-close")
    closing.start()
    deadline = time.monotonic() + 5
    while handler.client.auto_reconnect_enabled and time.monotonic() < deadline:
        time.sleep(0.005)
    stub.socket.close_all()
    handler.client.message_queue.put(None)
    closing.join(timeout=10)
    while _socket_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _socket_threads() - before, f"left running: {_socket_threads() - before}"


@pytest.fixture
def slack(bot: App, stub: SocketModeSlackStub) -> SocketUser:
    return SocketUser(bot, stub, socket=stub.socket)


def test_the_bot_opens_its_connection_with_the_app_token_and_replies_with_the_bot_token(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    opened = stub.of("apps.connections.open")
    assert len(opened) == 1 and opened[0].params["token"] == APP_TOKEN
    assert len(stub.socket.connections) == 1 and stub.socket.refused == 0
    slack.slash(REQUEST)
    assert stub.wait_for("chat.postMessage", count=2)  # the stub answers not_authed without xoxb-
    assert all(c.response.get("ok") for c in stub.calls), [c.response for c in stub.calls]


def test_a_slash_command_is_acked_within_3_s_and_the_spec_is_posted_in_its_thread(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    assert slack.slash(REQUEST).status == 200
    ack = slack.acks[-1]
    assert ack.latency_s < ACK_LIMIT_S and ack.payload is None  # a plain ack: the reply comes in the thread
    root, spec = stub.wait_for("chat.postMessage", count=2)
    assert "thread_ts" not in root.params and REQUEST in json.dumps(root.params["blocks"])
    assert spec.params["thread_ts"] == root.ts
    text = json.dumps(spec.params["blocks"])
    assert "1,000" in text and "chatbot" in text
    assert find_button(spec, "review_spec")["value"].endswith("|1")
    assert find_button(spec, "recommend")


def test_an_empty_slash_command_gets_its_usage_in_the_ack_payload(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    slack.slash("   ")
    assert slack.acks[-1].payload == {"text": USAGE}
    time.sleep(0.2)  # a wrong reply would be posted within milliseconds
    assert stub.of("chat.postMessage") == []


def test_a_button_click_plans_the_spec_and_updates_the_thread(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    slack.slash(REQUEST)
    root, spec = stub.wait_for("chat.postMessage", count=2)
    slack.click(spec, "recommend")  # an `interactive` block_actions envelope
    assert slack.acks[-1].latency_s < ACK_LIMIT_S and slack.acks[-1].payload is None
    options = wait_options(stub)
    progress = next(c for c in stub.of("chat.postMessage") if "Planning" in text_of(c))
    assert progress.params["thread_ts"] == root.ts and options.ts == progress.ts
    assert "TTFT p95" in text_of(options) and "/month" in text_of(options)


def test_an_events_api_mention_is_acked_and_answered_in_its_thread(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    slack.mention(REQUEST, ts="1700000500.000100")
    assert slack.acks[-1].latency_s < ACK_LIMIT_S
    reply = stub.wait_for("chat.postMessage")[0]
    assert reply.params["thread_ts"] == "1700000500.000100" and "1,000" in text_of(reply)


@pytest.mark.slow
def test_when_slack_asks_for_a_new_connection_the_bot_moves_and_keeps_answering(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    slack.slash(REQUEST)
    stub.wait_for("chat.postMessage", count=2)
    stub.socket.ask_to_reconnect("refresh_requested")
    stub.socket.wait_connections(2)
    # slack_sdk's client reads the new connection once the old one's read returns (up to 3 s)
    stub.socket.wait_closed(0, timeout_s=5)
    assert len(stub.of("apps.connections.open")) == 2 and stub.socket.refused == 0
    slack.slash("code completion for 50 developers")
    assert slack.acks[-1].connection == 1 and slack.acks[-1].latency_s < ACK_LIMIT_S
    spec = stub.wait_for("chat.postMessage", count=4)[-1]
    assert "50" in text_of(spec)


@pytest.mark.parametrize("abort", [False, True], ids=["close-frame", "socket-cut"])
def test_when_the_server_drops_the_connection_the_bot_reconnects_and_keeps_answering(
    slack: SocketUser, stub: SocketModeSlackStub, abort: bool
) -> None:
    started = time.monotonic()
    stub.socket.close_current(abort=abort)
    # noticed through the pings: a close frame at the next one, a cut socket after five failed ones
    stub.socket.wait_connections(2, timeout_s=8 * PING_S + 1)
    reconnect_s = time.monotonic() - started
    assert reconnect_s < (2 if not abort else 6) * PING_S + 1, reconnect_s
    assert len(stub.of("apps.connections.open")) == 2 and stub.socket.refused == 0
    slack.slash(REQUEST)
    assert slack.acks[-1].connection == 1
    stub.wait_for("chat.postMessage", count=2)


# slack_sdk leaves the socket of a refused handshake to the garbage collector (CPython closes it at once)
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)
def test_when_the_websocket_does_not_open_the_error_says_so(
    settings: BotSettings, services: Services, stub: SocketModeSlackStub
) -> None:
    stub.socket.refuse_upgrades = True
    before = _socket_threads()
    with pytest.raises(SocketModeError, match="WebSocket to ws://127.0.0.1:.* did not open"):
        connect_socket_mode(build_app(settings, services=services), APP_TOKEN, ping_interval_s=PING_S)
    # refused once, maybe twice: the client's monitor retries at once before connect returns
    assert stub.socket.refused >= 1 and stub.socket.connections == []
    assert not _socket_threads() - before


def test_a_burst_of_commands_on_one_connection_is_acked_in_time_without_cross_talk(
    slack: SocketUser, stub: SocketModeSlackStub
) -> None:
    users = {f"U{i:02d}": (i + 1) * 100 for i in range(20)}
    envelopes = []
    for user, count in users.items():  # Slack multiplexes every request on the one socket
        body = slash_body(f"support chatbot for {count} users", user=user, response_url=stub.base_url)
        payload = {**dict(parse_qsl(body)), "api_app_id": APP_ID}
        envelopes.append(stub.socket.send("slash_commands", payload, accepts_response_payload=True))
    acks = [stub.socket.wait_ack(e, timeout_s=ACK_LIMIT_S) for e in envelopes]
    assert max(a.latency_s for a in acks) < ACK_LIMIT_S, [round(a.latency_s, 2) for a in acks]
    posts = stub.wait_for("chat.postMessage", count=2 * len(users), timeout_s=20)
    roots = {c.ts: c for c in posts if "thread_ts" not in c.params}
    for spec in (c for c in posts if "thread_ts" in c.params):
        asker = re.search(r"<@(U\d\d)>", text_of(roots[spec.params["thread_ts"]]))
        assert asker and f"*Users:* {users[asker[1]]:,}" in text_of(spec), text_of(spec)[:200]
    assert len(roots) == len(users)


# --- `predeploy bot --socket` as a process -------------------------------------------------------------


def _bot_process(stub: SocketModeSlackStub, database_url: str, app_token: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REDIS_", "OLLAMA_"))}
    env.update(
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_APP_TOKEN=app_token,
        SLACK_API_URL=stub.api_url,
        DATABASE_URL=database_url,
    )
    predeploy = Path(sys.executable).with_name("predeploy")
    return subprocess.Popen(
        [str(predeploy), "bot", "--socket"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.slow
def test_predeploy_bot_socket_serves_slack_and_stops_on_ctrl_c(
    stub: SocketModeSlackStub, seeded_env: str
) -> None:
    process = _bot_process(stub, seeded_env, APP_TOKEN)
    try:
        stub.socket.wait_connections(1, timeout_s=30)
        user = SocketUser(
            App(token=TOKEN, signing_secret="-", token_verification_enabled=False), stub, socket=stub.socket
        )
        user.slash(REQUEST)
        root, spec = stub.wait_for("chat.postMessage", count=2, timeout_s=10)
        assert spec.params["thread_ts"] == root.ts and "1,000" in text_of(spec)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and stub.socket.connections[0].closed


@pytest.mark.parametrize(
    ("app_token", "code", "says"),
    [
        (None, 2, "SLACK_APP_TOKEN is not set"),
        ("xoxb-1-a-bot-token", 2, "app-level token starting with 'xapp-'"),
        ("xapp-1-A1-1-revoked", 1, "Slack refused SLACK_APP_TOKEN"),
    ],
    ids=["missing", "bot-token", "refused"],
)
def test_predeploy_bot_socket_without_a_usable_app_token_exits_with_the_fix(
    settings: BotSettings,
    stub: SocketModeSlackStub,
    monkeypatch: pytest.MonkeyPatch,
    app_token: str | None,
    code: int,
    says: str,
) -> None:
    from typer.testing import CliRunner

    from bot.cli import build_cli

    if app_token is None:
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    else:
        monkeypatch.setenv("SLACK_APP_TOKEN", app_token)
    before = _socket_threads()
    result = CliRunner().invoke(build_cli(), ["bot", "--socket"])
    assert result.exit_code == code, result.output
    assert says in result.stderr and isinstance(result.exception, SystemExit)
    assert stub.socket.connections == [] and stub.of("chat.postMessage") == []
    if code == 1:  # Slack was asked, and its answer is in the message with the fix
        assert stub.of("apps.connections.open")[0].response == {"ok": False, "error": "invalid_auth"}
        assert "invalid_auth" in result.stderr and "connections:write" in result.stderr
    assert not _socket_threads() - before
