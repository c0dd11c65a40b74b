"""The Ollama adapter against a loopback server speaking Ollama's /api/chat."""

from __future__ import annotations

import json
import socket
import time

import pytest
from werkzeug import Response

from planner.llm_intent import BackendError, extract_with_llm
from planner.spec import intent_json_schema
from tests.planner.catalog_fixture import fixture_catalog
from workers.llm import OllamaBackend, backend_from_env


def _reply(content: str) -> dict:
    return {
        "model": "llama3.1:8b",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": True,
        "done_reason": "stop",
    }


GOOD = json.dumps({"use_case": "translation", "user_count": 300, "preferred_gpu_types": ["A100"]})


def test_chat_sends_schema_and_temperature_zero(httpserver):
    schema = intent_json_schema()
    messages = [{"role": "user", "content": "translation for 300 users"}]
    httpserver.expect_ordered_request(
        "/api/chat",
        method="POST",
        json={
            "model": "llama3.1:8b",
            "messages": messages,
            "tools": [],
            "stream": False,
            "format": schema,
            "options": {"temperature": 0},
        },
    ).respond_with_json(_reply(GOOD))
    backend = OllamaBackend(httpserver.url_for("/"))
    assert backend.chat(messages, schema=schema, timeout_s=5) == GOOD


def test_extraction_through_ollama(httpserver):
    httpserver.expect_request("/api/chat", method="POST").respond_with_json(_reply(GOOD))
    out = extract_with_llm(
        "translation for 300 users", catalog=fixture_catalog(), backend=OllamaBackend(httpserver.url_for("/"))
    )
    assert out.source == "llm"
    assert (out.spec.use_case, out.spec.user_count, out.spec.preferred_gpu_types) == (
        "translation",
        300,
        ["A100-80GB"],
    )


def test_bad_json_twice_falls_back(httpserver):
    httpserver.expect_request("/api/chat", method="POST").respond_with_json(
        _reply("I think you want a chatbot")
    )
    out = extract_with_llm(
        "translation for 300 users", catalog=fixture_catalog(), backend=OllamaBackend(httpserver.url_for("/"))
    )
    assert out.source == "rules" and "not valid JSON" in out.fallback_reason
    assert len(httpserver.log) == 2  # the first answer and one repair


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_is_a_backend_error():
    backend = OllamaBackend(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(BackendError) as err:
        backend.chat([{"role": "user", "content": "hi"}], schema={}, timeout_s=2)
    assert err.value.kind == "unreachable"


def test_missing_model_says_how_to_pull_it(httpserver):
    httpserver.expect_request("/api/chat").respond_with_json(
        {"error": "model 'llama3.1:8b' not found"}, status=404
    )
    with pytest.raises(BackendError) as err:
        OllamaBackend(httpserver.url_for("/")).chat([], schema={}, timeout_s=2)
    assert err.value.kind == "error" and "ollama pull llama3.1:8b" in str(err.value)


def test_timeout_is_a_backend_error(httpserver):
    def slow(_request):
        time.sleep(1.0)
        return Response(json.dumps(_reply(GOOD)), content_type="application/json")

    httpserver.expect_request("/api/chat").respond_with_handler(slow)
    with pytest.raises(BackendError) as err:
        OllamaBackend(httpserver.url_for("/"), timeout_s=0.2).chat([], schema={}, timeout_s=0.2)
    assert err.value.kind == "timeout"


def test_backend_from_env():
    assert backend_from_env({}) is None
    b = backend_from_env({"OLLAMA_HOST": "http://ollama:11434", "OLLAMA_MODEL": "qwen2.5:7b"})
    assert b is not None and (b.host, b.model) == ("http://ollama:11434", "qwen2.5:7b")
