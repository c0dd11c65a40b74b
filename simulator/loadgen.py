"""A load generator for any OpenAI-compatible server: streams requests and measures TTFT, ITL, TPOT, e2e.

Requests go over `httpstream.Pool` (keep-alive HTTP/1.1 parsed in an asyncio protocol), which reads
the event streams of hundreds of requests at once for a few microseconds per event.

Prompts are made of `input_tokens` short words (a per-request id, then "tok" repeated), which the
simulator counts as exactly one token each and real tokenizers as about one. Every request streams
with `max_tokens = output_tokens`, `ignore_eos` and `stream_options.include_usage`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlsplit

from simulator.errors import SimulatorError
from simulator.httpstream import Pool, Target
from simulator.loadstats import LoadReport, RequestSample, build_report
from simulator.sse import EventTimes

ProgressFn = Callable[[float, int, int], None]  # (elapsed_s, finished, errors)


class Endpoint(StrEnum):
    """Which OpenAI API the load goes to."""

    COMPLETIONS = "completions"
    CHAT = "chat"


@dataclass(frozen=True)
class LoadSpec:
    """One load-test run: either a request rate (constant or Poisson) or a fixed concurrency."""

    url: str
    model: str
    input_tokens: int
    output_tokens: int
    duration_s: float
    rate_per_s: float | None = None
    poisson: bool = False
    concurrency: int | None = None
    endpoint: Endpoint = Endpoint.COMPLETIONS
    max_requests: int = 1_000_000
    timeout_s: float = 120.0
    seed: int = 0
    api_key: str | None = None  # sent as a bearer token

    def __post_init__(self) -> None:
        if (self.rate_per_s is None) == (self.concurrency is None):
            raise SimulatorError("give exactly one of a request rate or a concurrency")
        rate, conc = self.rate_per_s, self.concurrency
        checks = [
            (self.input_tokens >= 1, f"input tokens must be >= 1, got {self.input_tokens}"),
            (self.output_tokens >= 1, f"output tokens must be >= 1, got {self.output_tokens}"),
            (0 < self.duration_s <= 86_400, f"duration must be in (0, 86400] s, got {self.duration_s}"),
            (rate is None or 0 < rate <= 100_000, f"rate must be in (0, 100000] requests/s, got {rate}"),
            (conc is None or 1 <= conc <= 10_000, f"concurrency must be in [1, 10000], got {conc}"),
            (self.max_requests >= 1 and self.timeout_s > 0, "max requests and the timeout must be positive"),
            (
                not self.api_key or self.api_key.isprintable(),
                "the API key must be one line of printable text",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SimulatorError(message)
        endpoint_url(self.url, self.endpoint)


def endpoint_url(base_url: str, endpoint: Endpoint) -> str:
    """The full URL of the endpoint under a server's base URL (with or without a trailing /v1).

    Raises:
        SimulatorError: the URL is not http(s)://host[:port][/path].
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SimulatorError(f"the URL must look like http://127.0.0.1:8080, got {base_url!r}")
    base = base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    return f"{base}/v1/{'chat/completions' if endpoint is Endpoint.CHAT else 'completions'}"


def _payload_parts(spec: LoadSpec) -> tuple[bytes, bytes]:
    """Request body around the per-request id word: prefix + id + suffix."""
    marker = "\x00ID\x00"
    prompt = marker + " tok" * (spec.input_tokens - 1)
    body: dict[str, object] = {
        "model": spec.model,
        "max_tokens": spec.output_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
    }
    if spec.endpoint is Endpoint.CHAT:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    head, tail = json.dumps(body).split(json.dumps(marker)[1:-1])
    return head.encode(), tail.encode()


def _id_word(n: int) -> bytes:
    """A short word (at most 4 characters for the first 1.6 million) that makes each prompt distinct."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out.encode()


def _error_message(status: int, body: bytes) -> str:
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body[:200].decode("utf-8", "replace")
    return f"HTTP {status}: {message}"


class _Client:
    """Sends the spec's requests over one pool of keep-alive connections."""

    def __init__(self, spec: LoadSpec, started: float) -> None:
        self.spec = spec
        self.pool = Pool(Target.parse(endpoint_url(spec.url, spec.endpoint), bearer_token=spec.api_key))
        self.head, self.tail = _payload_parts(spec)
        self.started = started
        self.sent = 0
        self.samples: list[RequestSample] = []
        self.errors = 0
        self.last_done = started

    async def send(self) -> None:
        n = self.sent
        self.sent += 1
        body = self.head + _id_word(n) + self.tail
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.spec.timeout_s):
                sample = await self._stream(body, start)
        except TimeoutError:
            sample = self._failed(start, f"no complete response within {self.spec.timeout_s:g} s")
        except (OSError, ValueError) as exc:
            sample = self._failed(start, f"{type(exc).__name__}: {exc}")
        if not sample.ok:
            self.errors += 1
        self.samples.append(sample)
        self.last_done = time.perf_counter()

    def _failed(self, start: float, error: str) -> RequestSample:
        return RequestSample(ok=False, sent_s=start - self.started, error=error)

    async def _stream(self, body: bytes, start: float) -> RequestSample:
        events = EventTimes()

        def on_body(data: bytes, now: float) -> None:
            events.feed(data, now - start)

        status, error_body = await self.pool.post(body, on_body)
        if status != 200:
            return self._failed(start, _error_message(status, error_body))
        times = events.token_times
        if not times:
            return self._failed(start, "the stream carried no tokens")
        return RequestSample(
            ok=True,
            sent_s=start - self.started,
            ttft_s=times[0],
            e2e_s=events.done_s if events.done_s is not None else times[-1],
            output_tokens=events.usage_tokens if events.usage_tokens is not None else len(times),
            chunk_times_s=tuple(times),
        )


async def _open_loop(client: _Client, spec: LoadSpec, rate_per_s: float) -> None:
    rng = random.Random(spec.seed)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    offset_s, k = 0.0, 0  # when the k-th request is due, from t0
    tasks: set[asyncio.Task[None]] = set()

    def is_due_in_run() -> bool:
        return offset_s < spec.duration_s - 1e-9 and client.sent < spec.max_requests

    while is_due_in_run():
        delay = t0 + offset_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        while is_due_in_run() and t0 + offset_s <= loop.time():
            task = asyncio.create_task(client.send())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
            offset_s = offset_s + rng.expovariate(rate_per_s) if spec.poisson else k / rate_per_s
    if tasks:
        await asyncio.wait(tasks)


async def _closed_loop(client: _Client, spec: LoadSpec, concurrency: int) -> None:
    deadline = asyncio.get_running_loop().time() + spec.duration_s

    async def worker() -> None:
        while asyncio.get_running_loop().time() < deadline and client.sent < spec.max_requests:
            await client.send()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run_load(spec: LoadSpec, *, on_progress: ProgressFn | None = None) -> LoadReport:
    """Run one load test; in-flight requests finish (or time out) after the duration.

    Raises:
        SimulatorError: the server cannot be reached at all.
    """
    started = time.perf_counter()
    client = _Client(spec, started)
    ticker = asyncio.create_task(_tick(client, on_progress)) if on_progress else None
    try:
        if spec.rate_per_s is not None:
            await _open_loop(client, spec, spec.rate_per_s)
        else:
            await _closed_loop(client, spec, spec.concurrency or 1)
    finally:
        if ticker:
            ticker.cancel()
        client.pool.close()
    report = build_report(client.samples, wall_s=client.last_done - started)
    if (
        report.requests == 0
        and report.errors
        and report.first_error
        and report.first_error.startswith("ConnectError")
    ):
        raise SimulatorError(f"cannot reach {spec.url}: {report.first_error}. Is the server running?")
    if on_progress:
        on_progress(report.wall_s, report.requests + report.errors, report.errors)
    return report


async def _tick(client: _Client, on_progress: ProgressFn) -> None:
    while True:
        await asyncio.sleep(0.25)
        on_progress(time.perf_counter() - client.started, len(client.samples), client.errors)


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: what it was (a concurrency or a rate) and what it measured."""

    label: str
    rate_per_s: float | None
    concurrency: int | None
    report: LoadReport


def sweep_rates(low_per_s: float, high_per_s: float, points: int) -> list[float]:
    """`points` rates evenly spaced strictly between low and high (GuideLLM's sweep)."""
    if points < 1 or not math.isfinite(low_per_s) or high_per_s <= low_per_s:
        return []
    step = (high_per_s - low_per_s) / (points + 1)
    return [low_per_s + step * (i + 1) for i in range(points)]


async def run_sweep(
    spec: LoadSpec,
    *,
    points: int = 4,
    max_concurrency: int = 128,
    on_stage: Callable[[str], None] | None = None,
) -> list[SweepPoint]:
    """Concurrency 1 (the lowest rate), then `max_concurrency` (the highest), then rates in between."""
    base = replace(spec, rate_per_s=None, concurrency=1)
    out: list[SweepPoint] = []
    for label, stage in (("synchronous", base), ("throughput", replace(base, concurrency=max_concurrency))):
        if on_stage:
            on_stage(label)
        out.append(SweepPoint(label, None, stage.concurrency, await run_load(stage)))
    for rate in sweep_rates(out[0].report.requests_per_s, out[1].report.requests_per_s, points):
        if on_stage:
            on_stage(f"rate {rate:.2f}/s")
        stage = replace(spec, rate_per_s=rate, concurrency=None)
        out.append(
            SweepPoint(
                f"{'poisson' if spec.poisson else 'constant'}@{rate:.2f}", rate, None, await run_load(stage)
            )
        )
    return out
