"""The simulated vLLM server in process, through aiohttp's test client."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator.clock import Clock, LoopClock, ManualClock
from simulator.config import Faults, LatencyProfile, ServerConfig
from simulator.metrics import TTFT_BUCKETS_S
from simulator.server import build_app

PROFILE = LatencyProfile(
    step_overhead_ms=1.0,
    weights_read_ms=4.0,
    kv_read_ms_per_1k_tokens=0.1,
    compute_ms_per_token=0.05,
    attn_ms_per_1m_token_pairs=1.0,
    kv_cache_tokens=20_000,
    max_num_seqs=32,
    max_num_batched_tokens=512,
    block_size=16,
)
MODEL = "sim-llama"
USER = [{"role": "user", "content": "x"}]


def serve(
    body: Callable[[TestClient[Any, Any]], Awaitable[Any]],
    *,
    faults: Faults | None = None,
    clock: Clock | None = None,
    **kw: Any,
) -> Any:
    config = ServerConfig(model_name=MODEL, profile=PROFILE, faults=faults or Faults(), **kw)

    async def main() -> Any:
        app = build_app(config, clock=clock or ManualClock())
        async with TestClient(TestServer(app)) as client:
            return await body(client)

    return asyncio.run(main())


def sse_events(raw: str) -> list[Any]:
    assert raw.endswith("\n\n")
    events = [block for block in raw.split("\n\n") if block]
    assert all(e.startswith("data: ") for e in events)
    return [e[6:] if e[6:] == "[DONE]" else json.loads(e[6:]) for e in events]


def parse_exposition(text: str) -> dict[str, float]:
    """A small parser for the text format: {'name{labels}': value}; checks HELP/TYPE precede samples."""
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            name = key.split("{", 1)[0]
            assert any(name == t or name.startswith(t + "_") for t in typed), name
            samples[key] = float(value)
    return samples


def test_models_version_health() -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        models = await (await client.get("/v1/models")).json()
        assert [m["id"] for m in models["data"]] == [MODEL]
        assert models["data"][0]["max_model_len"] == 20_000
        assert "version" in await (await client.get("/version")).json()
        assert (await client.get("/health")).status == 200

    serve(body)


def test_completion_plain_counts_prompt_and_honours_max_tokens() -> None:
    async def body(client: TestClient[Any, Any]) -> Any:
        payload = {"model": MODEL, "prompt": "tok " * 37, "max_tokens": 9, "ignore_eos": True}
        return await (await client.post("/v1/completions", json=payload)).json()

    out = serve(body)
    assert out["object"] == "text_completion"
    assert out["usage"] == {"prompt_tokens": 37, "completion_tokens": 9, "total_tokens": 46}
    assert len(out["choices"][0]["text"].split()) == 9
    assert out["choices"][0]["finish_reason"] == "length"


def test_chat_stream_shape_with_usage() -> None:
    async def body(client: TestClient[Any, Any]) -> tuple[str, str]:
        payload = {
            "model": MODEL,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "tok " * 20}],
            "max_tokens": 5,
            "ignore_eos": True,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        resp = await client.post("/v1/chat/completions", json=payload)
        return resp.headers["Content-Type"], await resp.text()

    content_type, raw = serve(body)
    assert content_type.startswith("text/event-stream")
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    role, *tokens, usage_chunk, _ = events
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert len(tokens) == 5 and all(t["object"] == "chat.completion.chunk" for t in tokens)
    assert [t["choices"][0]["finish_reason"] for t in tokens] == [None] * 4 + ["length"]
    assert all(t["choices"][0]["delta"]["content"].strip() for t in tokens)
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 5
    assert usage_chunk["usage"]["prompt_tokens"] == 1 + 2 + 20  # "be", "brief" (ceil(5/4)), 20 x "tok"
    assert len({e["id"] for e in events[:-1]}) == 1


def test_completion_stream_without_usage_and_eos_draw() -> None:
    async def body(client: TestClient[Any, Any]) -> list[list[Any]]:
        runs = []
        for _ in range(5):
            payload = {"model": MODEL, "prompt": "hello", "max_tokens": 400, "stream": True}
            runs.append(sse_events(await (await client.post("/v1/completions", json=payload)).text()))
        return runs

    runs = serve(body, mean_output_tokens=20)
    lengths = []
    for events in runs:
        *tokens, done = events
        assert done == "[DONE]" and all("usage" not in t for t in tokens)
        assert tokens[-1]["choices"][0]["finish_reason"] in ("stop", "length")
        lengths.append(len(tokens))
    assert all(1 <= n <= 400 for n in lengths) and min(lengths) < 400  # EOS draws stop earlier


@pytest.mark.parametrize(
    "path,payload,status,param",
    [
        ("/v1/completions", {"prompt": "hi", "max_tokens": 3}, 400, "model"),
        ("/v1/completions", {"model": "other", "prompt": "hi"}, 404, "model"),
        ("/v1/completions", {"model": MODEL, "prompt": "hi", "max_tokens": 0}, 400, "max_tokens"),
        ("/v1/completions", {"model": MODEL, "prompt": "hi", "max_tokens": "5"}, 400, "max_tokens"),
        ("/v1/completions", {"model": MODEL, "prompt": "hi", "max_tokens": 20_000}, 400, "max_tokens"),
        ("/v1/completions", {"model": MODEL, "prompt": ""}, 400, "prompt"),
        ("/v1/completions", {"model": MODEL, "prompt": ["a", "b"]}, 400, "prompt"),
        ("/v1/completions", {"model": MODEL, "prompt": "a", "stream_options": {"include_usage": True}}, 400,
         "stream_options"),
        ("/v1/chat/completions", {"model": MODEL, "messages": []}, 400, "messages"),
        ("/v1/chat/completions", {"model": MODEL, "messages": [{"content": "x"}]}, 400, "messages"),
        ("/v1/chat/completions", {"model": MODEL, "messages": USER, "n": 2}, 400, "n"),
    ],
)  # fmt: skip
def test_bad_requests_get_openai_error_json(
    path: str, payload: dict[str, Any], status: int, param: str
) -> None:
    async def body(client: TestClient[Any, Any]) -> tuple[int, Any]:
        resp = await client.post(path, json=payload)
        return resp.status, await resp.json()

    got_status, out = serve(body)
    assert got_status == status
    assert set(out["error"]) == {"message", "type", "param", "code"}
    assert out["error"]["param"] == param and out["error"]["code"] == status and out["error"]["message"]


def test_body_that_is_not_json() -> None:
    async def body(client: TestClient[Any, Any]) -> tuple[int, Any]:
        resp = await client.post(
            "/v1/completions", data=b"{nope", headers={"Content-Type": "application/json"}
        )
        return resp.status, await resp.json()

    status, out = serve(body)
    assert status == 400 and "not JSON" in out["error"]["message"]

    async def latin1(client: TestClient[Any, Any]) -> tuple[int, Any]:
        resp = await client.post("/v1/completions", data=b'{"prompt": "\xff"}')
        return resp.status, await resp.json()

    status, out = serve(latin1)
    assert status == 400 and "UTF-8" in out["error"]["message"]


def test_metrics_exposition_after_traffic() -> None:
    async def body(client: TestClient[Any, Any]) -> str:
        for i in range(4):
            payload = {"model": MODEL, "prompt": "tok " * 10, "max_tokens": 3 + i, "ignore_eos": True}
            assert (await client.post("/v1/completions", json=payload)).status == 200
        resp = await client.get("/metrics")
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return await resp.text()

    text = serve(body)
    s = parse_exposition(text)
    lab = f'engine="0",model_name="{MODEL}"'
    assert s[f'vllm:request_success_total{{{lab},finished_reason="length"}}'] == 4
    assert s[f"vllm:time_to_first_token_seconds_count{{{lab}}}"] == 4
    assert s[f"vllm:inter_token_latency_seconds_count{{{lab}}}"] == 2 + 3 + 4 + 5
    assert s[f"vllm:prompt_tokens_total{{{lab}}}"] == 40
    assert s[f"vllm:generation_tokens_total{{{lab}}}"] == 3 + 4 + 5 + 6
    assert s[f"vllm:num_requests_running{{{lab}}}"] == 0 and s[f"vllm:kv_cache_usage_perc{{{lab}}}"] == 0
    buckets = [s[f'vllm:time_to_first_token_seconds_bucket{{{lab},le="{b!r}"}}'] for b in TTFT_BUCKETS_S]
    assert buckets == sorted(buckets)
    assert s[f'vllm:time_to_first_token_seconds_bucket{{{lab},le="+Inf"}}'] == 4
    if shutil.which("promtool"):
        out = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        problems = [ln for ln in (out.stdout + out.stderr).splitlines() if "should not contain ':'" not in ln]
        assert problems == [], problems  # vLLM's names contain ':', which promtool's linter dislikes


def test_error_rate_fault_answers_500_and_counts() -> None:
    async def body(client: TestClient[Any, Any]) -> tuple[int, Any, str]:
        resp = await client.post("/v1/completions", json={"model": MODEL, "prompt": "hi", "max_tokens": 2})
        return resp.status, await resp.json(), await (await client.get("/metrics")).text()

    status, out, text = serve(body, faults=Faults(error_rate=1.0))
    assert status == 500 and out["error"]["code"] == 500
    assert (
        f'vllm:request_success_total{{engine="0",model_name="{MODEL}",finished_reason="error"}} 1.0' in text
    )


def test_startup_delay_reports_loading_until_ready() -> None:
    clock = ManualClock()

    async def body(client: TestClient[Any, Any]) -> list[int]:
        statuses = [(await client.get("/health")).status, (await client.get("/v1/models")).status]
        statuses.append((await client.post("/v1/completions", json={"model": MODEL, "prompt": "x"})).status)
        clock.now_s += 30
        statuses.append((await client.get("/health")).status)
        return statuses

    assert serve(body, faults=Faults(startup_delay_s=30), clock=clock) == [503, 503, 503, 200]


def test_extra_latency_delays_the_first_token() -> None:
    async def body(client: TestClient[Any, Any]) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await client.post("/v1/completions", json={"model": MODEL, "prompt": "x", "max_tokens": 1})
        return loop.time() - start

    assert serve(body, faults=Faults(extra_latency_ms=80), clock=LoopClock()) >= 0.08


def test_client_that_leaves_aborts_its_request() -> None:
    async def body(client: TestClient[Any, Any]) -> str:
        payload = {"model": MODEL, "prompt": "x", "max_tokens": 5000, "ignore_eos": True, "stream": True}
        resp = await client.post("/v1/completions", json=payload)
        await resp.content.readline()
        resp.close()
        for _ in range(100):
            text = await (await client.get("/metrics")).text()
            if 'finished_reason="abort"} 1.0' in text:
                return text
            await asyncio.sleep(0.02)
        return text

    text = serve(body, clock=LoopClock())
    assert 'finished_reason="abort"} 1.0' in text
    assert f'vllm:num_requests_running{{engine="0",model_name="{MODEL}"}} 0.0' in text
