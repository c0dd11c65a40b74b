"""Ack latency of the Slack app under 20 concurrent requests: p50/p99 (target p99 < 300 ms).

Starts the real `predeploy bot --port` in a subprocess (seeded SQLite database in a temp dir, inline
jobs, no Redis), a loopback Slack Web API stub in this process, and sends signed requests the way
Slack does. Each round sends 20 slash commands at once, then clicks the 20 *Recommend* buttons the
bot posted at once (which starts 20 plans in the bot's process), and times each HTTP response: the ack.

    .venv/bin/python benchmarks/bench_ack.py [--rounds 5] [--concurrency 20] [--redis-url URL]

Measured on the 2-core build machine (5 rounds, 200 acks, other test suites running, load 2-4):
one request at a time, p50 15-17 ms; 20 at once with jobs queued in Redis (production shape),
p50 60-70 ms and p99 146 ms (target met); 20 at once with jobs inline in the bot's own process,
while the previous round's 20 plans and charts still run there, p99 460-730 ms (missed: planning
and matplotlib hold the GIL; run `predeploy worker` with REDIS_URL when many people use the bot).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import BoltResponse  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_bot(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = str(ROOT / ".venv" / "bin" / "predeploy")
    proc = subprocess.Popen([exe, "bot", "--host", "127.0.0.1", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).text == "ok":
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the bot did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--redis-url",
        default="",
        help="queue jobs in this Redis (e.g. redis://127.0.0.1:6379/14, flushed first) instead of running "
        "them inside the bot, as in production with `predeploy worker` elsewhere",
    )
    args = parser.parse_args()

    import httpx

    from tests.bot.harness import SECRET, SlackUser
    from tests.bot.slack_stub import Call, SlackStub

    stub = SlackStub().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'kb.db'}",
        "SLACK_BOT_TOKEN": "xoxb-bench-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": stub.api_url,
    }
    for name in ("REDIS_URL", "OLLAMA_HOST"):
        env.pop(name, None)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        env["REDIS_URL"] = args.redis_url
    print(f"jobs: {'queued in ' + args.redis_url if args.redis_url else 'inline, inside the bot process'}")
    print("starting predeploy bot (seeding the knowledge base)…", file=sys.stderr)
    proc, base = start_bot(env)
    http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=100))
    users = [
        SlackUser(None, stub, user=f"U{i:02d}", http_url=base + "/slack/events", http=http)  # type: ignore[arg-type]
        for i in range(args.concurrency)
    ]

    def timed(send: Callable[[], BoltResponse]) -> float:
        start = time.perf_counter()
        response = send()
        elapsed_ms = (time.perf_counter() - start) * 1000
        assert response.status == 200, response.status
        return elapsed_ms

    try:
        users[0].slash("warm-up: a chatbot for 10 users")
        stub.wait_for("chat.postMessage", count=2, timeout_s=60)
        solo = []
        for _ in range(10):
            solo.append(timed(lambda: users[0].slash("a chatbot for 20 users")))
            time.sleep(0.3)
        print(f"one request at a time: ack p50 {statistics.median(solo):.1f} ms, max {max(solo):.1f} ms")
        acks: dict[str, list[float]] = {"slash command": [], "Recommend click": []}
        with ThreadPoolExecutor(args.concurrency) as pool:
            for r in range(args.rounds):
                before = len(stub.of("chat.postMessage"))
                acks["slash command"] += pool.map(
                    lambda u, r=r: timed(lambda: u.slash(f"support chatbot for {100 + r} users")), users
                )

                def specs(before: int = before) -> list[Call]:
                    return [c for c in stub.of("chat.postMessage")[before:] if "'recommend'" in str(c.params)]

                deadline = time.monotonic() + 120
                while len(specs()) < args.concurrency and time.monotonic() < deadline:
                    time.sleep(0.05)
                acks["Recommend click"] += pool.map(
                    lambda pair: timed(lambda: pair[0].click(pair[1], "recommend")),
                    zip(users, specs(), strict=False),
                )
        for kind, values in acks.items():
            print(
                f"{kind:16s} n={len(values):4d}  p50 {statistics.median(values):6.1f} ms  "
                f"p99 {percentile(values, 99):6.1f} ms  max {max(values):6.1f} ms  "
                f"(concurrency {args.concurrency})"
            )
        every = acks["slash command"] + acks["Recommend click"]
        p99 = percentile(every, 99)
        print(f"all acks: p99 {p99:.1f} ms; target < 300 ms: {'met' if p99 < 300 else 'MISSED'}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        stub.stop()


if __name__ == "__main__":
    main()
