"""Job functions for the job-system tests: importable by RQ workers, independent of the bot's jobs.

Each job appends a line to the file `tally` per attempt, so a test can count attempts across
processes (in-process SimpleWorker, a `predeploy worker` subprocess, inline runs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from planner.errors import PlannerError


def attempts(tally: str) -> int:
    path = Path(tally)
    return len(path.read_text().splitlines()) if path.exists() else 0


def _count(tally: str) -> int:
    with open(tally, "a") as f:
        f.write(f"{os.getpid()}\n")
    return attempts(tally)


def double(tally: str, x: int) -> int:
    _count(tally)
    return 2 * x


def flaky(tally: str, failures: int) -> str:
    """Fails with a dropped connection `failures` times, then succeeds."""
    n = _count(tally)
    if n <= failures:
        raise ConnectionResetError(f"[Errno 104] Connection reset by peer (attempt {n})")
    return f"ok after {n}"


def bad_input(tally: str) -> None:
    _count(tally)
    raise PlannerError("unknown model 'llama-9'; did you mean 'llama-3.1-8b'?")


def buggy(tally: str) -> None:
    _count(tally)
    raise KeyError("options")


def post_hello(tally: str, api_url: str) -> str:
    """Post to the Slack Web API at api_url (a 429 there raises SlackApiError)."""
    from slack_sdk import WebClient

    _count(tally)
    response = WebClient(token="xoxb-test", base_url=api_url).chat_postMessage(channel="C1", text="hello")
    return str(response["ts"])


def sleepy(tally: str, marker: str, seconds: float) -> str:
    """The first attempt writes its pid to `marker` and sleeps; later attempts return at once."""
    n = _count(tally)
    if n == 1:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(seconds)
    return f"done on attempt {n}"


def buggy_plan(plan_id: int, tally: str) -> None:
    """A deploy-style job (plan id first) with a bug."""
    _count(tally)
    raise KeyError(f"option of plan {plan_id}")
