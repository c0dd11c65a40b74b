"""The OpenAI-compatible wire format, as vLLM speaks it: request validation and response bodies (pure).

Prompt length: the text of the prompt (or of all chat messages' contents) is counted with
`text.count_prompt_tokens` (ceil(len(word)/4) tokens per whitespace-separated word); a completions
prompt given as a list of token ids counts one token per id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from simulator.errors import RequestError
from simulator.text import count_prompt_tokens

DONE = b"data: [DONE]\n\n"


class EndpointKind(StrEnum):
    """Which generation endpoint a request came to."""

    COMPLETION = "completion"
    CHAT = "chat"


@dataclass(frozen=True)
class GenerationParams:
    """A validated generation request."""

    kind: EndpointKind
    model: str
    prompt_tokens: int
    max_tokens: int  # after defaulting to what is left of max_model_len
    ignore_eos: bool
    stream: bool
    include_usage: bool


def _flag(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"'{name}' must be true or false, got {value!r}", param=name)
    return value


def _content_tokens(content: Any, where: str) -> int:
    if isinstance(content, str):
        return count_prompt_tokens(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise RequestError(f"{where}: only text content parts are supported", param="messages")
            total += count_prompt_tokens(part["text"])
        return total
    if content is None:
        return 0
    raise RequestError(f"{where}: content must be a string or a list of text parts", param="messages")


def prompt_tokens_of(body: dict[str, Any], kind: EndpointKind) -> int:
    """Count the prompt tokens of a request body.

    Raises:
        RequestError: the prompt or messages are missing or malformed.
    """
    if kind is EndpointKind.CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list of {role, content}", param="messages")
        total = 0
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise RequestError(f"messages[{i}] must be an object with a 'role'", param="messages")
            total += _content_tokens(message.get("content"), f"messages[{i}]")
        return total
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        prompt = prompt[0]  # a batch of one
    if isinstance(prompt, str):
        return count_prompt_tokens(prompt)
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
    ):
        return len(prompt)
    raise RequestError(
        "'prompt' must be a string or a list of token ids (one prompt per request)", param="prompt"
    )


def parse_request(body: Any, *, kind: EndpointKind, max_model_len: int) -> GenerationParams:
    """Validate a generation request body (the model name is checked by the caller).

    Raises:
        RequestError: a missing or malformed field, or a prompt plus max_tokens over max_model_len.
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' is required: the served model name (see GET /v1/models)", param="model")
    n = body.get("n", 1)
    if n not in (None, 1):
        raise RequestError(f"the simulator supports n=1 only, got n={n!r}", param="n")
    prompt_tokens = prompt_tokens_of(body, kind)
    if prompt_tokens < 1:
        raise RequestError("the prompt is empty: give at least one token", param="prompt")
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and (not stream or not isinstance(options, dict)):
        raise RequestError(
            "'stream_options' is an object, allowed only with stream=true", param="stream_options"
        )
    include_usage = bool(options and _flag(options, "include_usage"))
    max_tokens = _max_tokens(body, kind, prompt_tokens=prompt_tokens, max_model_len=max_model_len)
    return GenerationParams(
        kind=kind,
        model=model,
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        ignore_eos=_flag(body, "ignore_eos"),
        stream=stream,
        include_usage=include_usage,
    )


def _max_tokens(body: dict[str, Any], kind: EndpointKind, *, prompt_tokens: int, max_model_len: int) -> int:
    name = (
        "max_completion_tokens"
        if kind is EndpointKind.CHAT and "max_completion_tokens" in body
        else "max_tokens"
    )
    value = body.get(name)
    if value is None:
        value = max_model_len - prompt_tokens
        if value < 1:
            raise RequestError(
                f"the prompt has {prompt_tokens} tokens; this model's maximum context length is"
                f" {max_model_len}. Shorten the prompt.",
                param="prompt",
            )
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RequestError(f"'{name}' must be an integer >= 1, got {value!r}", param=name)
    if prompt_tokens + value > max_model_len:
        raise RequestError(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested"
            f" {prompt_tokens + value} tokens ({prompt_tokens} in the prompt, {value} in the completion)."
            " Please reduce the length of the prompt or completion.",
            param=name,
        )
    return value


def error_body(message: str, *, kind: str, status: int, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def full_response(
    params: GenerationParams,
    *,
    request_id: str,
    created: int,
    text: str,
    completion_tokens: int,
    finish_reason: str,
) -> dict[str, Any]:
    """The body of a non-streamed completion or chat completion."""
    choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish_reason}
    if params.kind is EndpointKind.CHAT:
        choice["message"] = {"role": "assistant", "content": text}
        obj = "chat.completion"
    else:
        choice["text"] = text
        obj = "text_completion"
    return {
        "id": request_id,
        "object": obj,
        "created": created,
        "model": params.model,
        "choices": [choice],
        "usage": usage(params.prompt_tokens, completion_tokens),
    }


class StreamFormat:
    """Server-sent-event chunks of one streamed response, built from preformatted byte strings."""

    def __init__(self, params: GenerationParams, *, request_id: str, created: int) -> None:
        self.params = params
        chat = params.kind is EndpointKind.CHAT
        self._obj = "chat.completion.chunk" if chat else "text_completion"
        self._head = {"id": request_id, "object": self._obj, "created": created, "model": params.model}
        head = json.dumps(self._head)[:-1]
        field = '"delta":{"content":' if chat else '"text":'
        self._prefix = f'data: {head},"choices":[{{"index":0,{field}'.encode()
        self._close = b"}" if chat else b""

    def role(self) -> bytes:
        """The first chunk of a chat stream: the assistant role, no text."""
        choice = {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
        return self._event({**self._head, "choices": [choice]})

    def token(self, text: str, finish_reason: str | None = None) -> bytes:
        """One token's chunk; the last one carries the finish reason."""
        return self.token_json(json.dumps(text).encode(), finish_reason)

    def token_json(self, text_json: bytes, finish_reason: str | None = None) -> bytes:
        """One token's chunk from its text already encoded as a JSON string (the hot path)."""
        reason = b"null" if finish_reason is None else json.dumps(finish_reason).encode()
        return b'%s%s%s,"logprobs":null,"finish_reason":%s}]}\n\n' % (
            self._prefix,
            text_json,
            self._close,
            reason,
        )

    def usage(self, completion_tokens: int) -> bytes:
        """The final usage chunk (stream_options.include_usage)."""
        return self._event(
            {**self._head, "choices": [], "usage": usage(self.params.prompt_tokens, completion_tokens)}
        )

    @staticmethod
    def _event(obj: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(obj).encode() + b"\n\n"
