"""The simulated vLLM server: OpenAI-compatible routes over the engine, plus /health, /version, /metrics."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from simulator.clock import Clock, LoopClock
from simulator.config import ServerConfig
from simulator.engine import Engine
from simulator.errors import RequestError
from simulator.latency import draw_output_tokens
from simulator.metrics import CONTENT_TYPE, Metrics
from simulator.protocol import DONE, EndpointKind, GenerationParams, StreamFormat, error_body, full_response
from simulator.protocol import parse_request as parse_body
from simulator.seq import FinishedRequest, SeqRequest
from simulator.text import TOKEN_JSON, response_text, text_seed, token_index

MAX_BODY_BYTES = 64 * 1024 * 1024  # long prompts are fine (aiohttp's default is 1 MiB)
VERSION = "0.33.0+sim"  # the vLLM version whose API and metrics the simulator follows


class _Sink:
    """Wakes a non-streamed request's handler once, when the engine has finished it."""

    __slots__ = ("done", "result")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.result: FinishedRequest | None = None

    def on_token(self, now_s: float) -> None:
        pass  # the whole text goes out at the end

    def on_finish(self, result: FinishedRequest) -> None:
        self.result = result
        self.done.set()


@dataclass
class _State:
    config: ServerConfig
    clock: Clock
    engine: Engine
    metrics: Metrics
    rng: random.Random
    ready_at_s: float = 0.0
    next_id: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def is_loading(self) -> bool:
        return self.clock.now() < self.ready_at_s


STATE = web.AppKey("state", _State)


def _error(status: int, message: str, *, kind: str, param: str | None = None) -> web.Response:
    return web.json_response(error_body(message, kind=kind, status=status, param=param), status=status)


def _loading(state: _State) -> web.Response:
    left_s = state.ready_at_s - state.clock.now()
    return _error(
        503, f"model {state.config.model_name} is loading; ready in {left_s:.1f} s", kind="ServiceUnavailable"
    )


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _loading(state) if state.is_loading() else web.Response(status=200)


async def version(_request: web.Request) -> web.Response:
    return web.json_response({"version": VERSION})


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = state.metrics.render(state.engine)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


async def models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.is_loading():
        return _loading(state)
    name = state.config.model_name
    card = {"id": name, "object": "model", "created": int(time.time()), "owned_by": "vllm", "root": name,
            "parent": None, "max_model_len": state.config.context_limit}  # fmt: skip
    return web.json_response({"object": "list", "data": [card]})


async def completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, EndpointKind.COMPLETION)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, EndpointKind.CHAT)


async def _generate(request: web.Request, kind: EndpointKind) -> web.StreamResponse:
    state = request.app[STATE]
    if state.is_loading():
        return _loading(state)
    try:
        params = parse_body(await request.json(), kind=kind, max_model_len=state.config.context_limit)
    except json.JSONDecodeError as exc:
        return _error(400, f"the request body is not JSON: {exc.msg}", kind="BadRequestError")
    except ValueError:
        return _error(400, "the request body is not UTF-8 JSON", kind="BadRequestError")
    except RequestError as exc:
        return _error(400, str(exc), kind="BadRequestError", param=exc.param)
    if params.model != state.config.model_name:
        message = (
            f"The model `{params.model}` does not exist. This server serves `{state.config.model_name}`."
        )
        return _error(404, message, kind="NotFoundError", param="model")
    faults = state.config.faults
    if faults.error_rate and state.rng.random() < faults.error_rate:
        state.metrics.record_error()
        return _error(500, "injected fault (--error-rate)", kind="InternalServerError")
    if faults.extra_latency_ms:
        await asyncio.sleep(faults.extra_latency_ms / 1000.0)
    return await _run(request, state, params)


async def _run(request: web.Request, state: _State, params: GenerationParams) -> web.StreamResponse:
    output_tokens = params.max_tokens
    if not params.ignore_eos:
        output_tokens = draw_output_tokens(
            state.rng, max_tokens=params.max_tokens, mean_tokens=state.config.mean_output_tokens
        )
    state.next_id += 1
    prefix = "chatcmpl" if params.kind is EndpointKind.CHAT else "cmpl"
    request_id = f"{prefix}-{state.config.seed:x}-{state.next_id:08x}"
    words = text_seed(state.rng)
    seq = SeqRequest(
        request_id,
        prompt_tokens=params.prompt_tokens,
        output_tokens=output_tokens,
        max_tokens=params.max_tokens,
    )
    created = int(time.time())
    try:
        if params.stream:
            fmt = StreamFormat(params, request_id=request_id, created=created)
            return await _stream(request, state, seq, fmt, words)
        sink = _Sink()
        state.engine.submit(seq, sink)
        await sink.done.wait()
        result = sink.result
        if result is None:  # cannot happen: done is set only with a result
            raise RuntimeError(f"request {request_id} ended without a result")
        text = response_text(words, result.output_tokens)
        body = full_response(
            params,
            request_id=request_id,
            created=created,
            text=text,
            completion_tokens=result.output_tokens,
            finish_reason=result.finished_reason,
        )
        return web.json_response(body)
    finally:
        state.engine.abort(request_id)  # a no-op once finished; frees the KV cache if the client left


class _StreamSink:
    """Writes each token's event straight to the socket from the engine's step, as one HTTP chunk.

    The handler sleeps until the request ends, so 500 streams cost no task switch per token.
    """

    __slots__ = ("transport", "fmt", "words", "total", "reason", "produced", "done", "result", "gone")

    def __init__(
        self, transport: asyncio.Transport | None, fmt: StreamFormat, *, words: int, total: int
    ) -> None:
        self.transport = transport
        self.fmt = fmt
        self.words = words
        self.total = total  # tokens the engine will make (the request's output_tokens)
        self.reason = "length" if total >= fmt.params.max_tokens else "stop"  # as the engine decides
        self.produced = 0
        self.done = asyncio.Event()
        self.result: FinishedRequest | None = None
        self.gone = False

    def write(self, data: bytes) -> None:
        t = self.transport
        if self.gone or t is None or t.is_closing():
            self.gone = True  # the client left: the handler wakes up and aborts the request
            self.done.set()
            return
        t.write(b"%x\r\n%b\r\n" % (len(data), data))  # HTTP/1.1 chunked framing, as aiohttp's writer

    def on_token(self, now_s: float) -> None:  # noqa: ARG002
        i = self.produced
        self.produced += 1
        reason = self.reason if self.produced == self.total else None
        self.write(self.fmt.token_json(TOKEN_JSON[token_index(self.words, i)], reason))

    def on_finish(self, result: FinishedRequest) -> None:
        self.result = result
        self.done.set()


async def _stream(
    request: web.Request, state: _State, seq: SeqRequest, fmt: StreamFormat, words: int
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    await response.prepare(request)  # sends the headers now (StreamResponse does not buffer them)
    sink = _StreamSink(request.transport, fmt, words=words, total=seq.output_tokens)
    if fmt.params.kind is EndpointKind.CHAT:
        sink.write(fmt.role())
    state.engine.submit(seq, sink)
    await sink.done.wait()
    if sink.result is not None and not sink.gone:
        tail = fmt.usage(sink.result.output_tokens) if fmt.params.include_usage else b""
        try:
            await response.write_eof(tail + DONE)
        except ConnectionResetError:
            pass  # the client went away at the very end
    return response


def build_app(config: ServerConfig, *, clock: Clock | None = None) -> web.Application:
    """The aiohttp application; the engine task runs while the app does."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    the_clock = clock or LoopClock()
    metrics_ = Metrics(config.model_name, max_model_len=config.context_limit)
    engine = Engine(config.profile, clock=the_clock, on_finished=metrics_.record)
    app[STATE] = _State(
        config=config, clock=the_clock, engine=engine, metrics=metrics_, rng=random.Random(config.seed)
    )

    async def engine_task(app: web.Application) -> AsyncIterator[None]:
        state = app[STATE]
        state.ready_at_s = state.clock.now() + config.faults.startup_delay_s
        task = asyncio.create_task(state.engine.run())
        yield
        task.cancel()

    app.cleanup_ctx.append(engine_task)
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", chat_completions)
    return app


async def serve(
    config: ServerConfig, *, host: str, port: int, on_ready: Callable[[int], Any] | None = None
) -> None:
    """Serve until cancelled; `on_ready(port)` is called once listening (port 0 picks a free one)."""
    runner = web.AppRunner(build_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    if on_ready is not None:
        on_ready(int(runner.addresses[0][1]))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
