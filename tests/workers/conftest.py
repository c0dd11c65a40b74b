"""Fixtures for the job system: a real Redis (this run's own database, flushed around each test),
the Slack stub, a seeded tmp database holding one Slack thread, and the environment a worker
reads its settings from.

Redis tests skip when 127.0.0.1:6379 does not answer, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.slack_stub import SlackStub
from tests.redis_db import flush, run_redis_url
from workers import records
from workers.enqueue import forget_inline
from workers.settings import WorkerSettings, load_settings

REDIS_URL = run_redis_url()  # this run's own database
TOKEN = "xoxb-test-token"
TEAM, CHANNEL, THREAD_TS = "T1", "C1", "111.222"
THREAD_ID = f"{TEAM}:{CHANNEL}:{THREAD_TS}"


@pytest.fixture
def redis_conn() -> Iterator[object]:
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.exceptions.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required under CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    flush(conn)
    yield conn
    flush(conn)
    conn.close()


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    s = SlackStub().start()
    yield s
    s.stop()


@pytest.fixture
def base_env(seeded_env: str, stub: SlackStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Slack and database settings in the environment; one thread stored; no Redis (inline)."""
    from kb import threads as kb_threads

    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", stub.api_url)
    for name in ("REDIS_URL", "OLLAMA_HOST", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    with records.sessions_for(seeded_env)() as session, session.begin():
        kb_threads.get_or_create_thread(
            session=session, team_id=TEAM, channel_id=CHANNEL, thread_ts=THREAD_TS, user_id="U1"
        )
    forget_inline()
    yield seeded_env
    forget_inline()
    records.forget()


@pytest.fixture
def inline_settings(base_env: str) -> WorkerSettings:
    """Settings without REDIS_URL, running jobs synchronously (as the CLI does)."""
    from dataclasses import replace

    return replace(load_settings(), inline_in_thread=False)


@pytest.fixture
def settings(base_env: str, redis_conn: object, monkeypatch: pytest.MonkeyPatch) -> WorkerSettings:
    """Settings with REDIS_URL on the test database; workers in this process read the same."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    return load_settings()


@pytest.fixture
def tally(tmp_path: Path) -> str:
    return str(tmp_path / "tally.txt")
