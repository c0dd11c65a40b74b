"""LLM extraction logic against a scripted ChatBackend: validation, one repair, fallbacks."""

from __future__ import annotations

import json

import pytest

from planner.errors import InvalidInputError
from planner.llm_intent import BackendError, build_messages, extract_with_llm
from planner.spec import intent_json_schema


class ScriptedBackend:
    """Answers from a list (strings are returned, exceptions raised) and records what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def chat(self, messages, *, schema, timeout_s):
        self.calls.append((messages, schema, timeout_s))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


GOOD = json.dumps(
    {
        "use_case": "chatbot",
        "user_count": 1000,
        "priorities": {"latency": "high", "cost": "medium", "accuracy": "medium"},
        "preferred_gpu_types": ["H100"],
        "preferred_models": ["llama 3.1 8b"],
    }
)


def test_valid_answer_is_resolved_against_the_catalog(catalog):
    backend = ScriptedBackend(GOOD)
    out = extract_with_llm("support chatbot for 1000 users on H100", catalog=catalog, backend=backend)
    assert out.source == "llm" and not out.fallback_reason
    assert out.spec.use_case == "chatbot_conversational"
    assert out.spec.preferred_gpu_types == ["H100-SXM"]
    assert out.spec.preferred_models == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert out.spec.priorities.latency == "high"
    messages, schema, _ = backend.calls[0]
    assert schema == intent_json_schema()
    assert '"user_count"' in messages[0]["content"]  # the schema is restated in the prompt


def test_one_repair_then_success(catalog):
    backend = ScriptedBackend("sure! here is JSON: {", GOOD)
    out = extract_with_llm("chatbot for 1000 users", catalog=catalog, backend=backend)
    assert out.source == "llm" and len(backend.calls) == 2
    repair = backend.calls[1][0][-1]["content"]
    assert "invalid" in repair and "not valid JSON" in repair


def test_bad_twice_falls_back_to_rules_saying_why(catalog):
    wrong_type = json.dumps({"user_count": "lots"})
    backend = ScriptedBackend("nope", wrong_type)
    out = extract_with_llm("translation for 300 users", catalog=catalog, backend=backend)
    assert out.source == "rules"
    assert "answered badly twice" in out.fallback_reason and "user_count" in out.fallback_reason
    assert (out.spec.use_case, out.spec.user_count) == ("translation", 300)


@pytest.mark.parametrize("kind", ["unreachable", "timeout"])
def test_backend_failure_falls_back(catalog, kind):
    backend = ScriptedBackend(BackendError(kind, "no Ollama here"))
    out = extract_with_llm("code completion for 50 devs", catalog=catalog, backend=backend)
    assert out.source == "rules" and out.fallback_reason.startswith(f"LLM {kind}")
    assert out.spec.use_case == "code_completion"


def test_unknown_names_from_the_llm_are_dropped_and_rules_fill_gaps(catalog):
    answer = json.dumps({"use_case": "astrology", "preferred_gpu_types": ["TPU-v5"], "user_count": None})
    out = extract_with_llm("chatbot for 700 users", catalog=catalog, backend=ScriptedBackend(answer))
    assert out.source == "llm"
    assert out.spec.use_case == "chatbot_conversational" and out.spec.user_count == 700
    assert out.spec.preferred_gpu_types == []
    assert any("TPU-v5" in n for n in out.notes)


def test_empty_text_is_rejected_before_calling_the_llm(catalog):
    backend = ScriptedBackend()
    with pytest.raises(InvalidInputError):
        extract_with_llm("  ", catalog=catalog, backend=backend)
    assert backend.calls == []


def test_history_is_sent_oldest_first(catalog):
    msgs = build_messages("make it 600 users", ["translation for 300 users"], catalog, intent_json_schema())
    assert [m["role"] for m in msgs] == ["system", "user", "user"]
    assert msgs[1]["content"] == "translation for 300 users"


def test_the_rules_working_shows_only_beside_the_value_it_explains(catalog):
    text = "summarize 50k legal contracts a day, each about 20 pages"
    agrees = json.dumps({"use_case": "long_document_summarization", "qps_basis": "made up by the model"})
    out = extract_with_llm(text, catalog=catalog, backend=ScriptedBackend(agrees))
    # the rules' working, not the LLM's
    assert out.intent.qps_basis == "50,000 contracts a day ÷ 86,400 s = 0.579 req/s"
    assert any(n.startswith("prompt length from the stated document size") for n in out.spec.notes)
    differs = json.dumps({"use_case": "long_document_summarization", "qps": 2.0, "input_tokens": 9000})
    out = extract_with_llm(text, catalog=catalog, backend=ScriptedBackend(differs))
    assert out.intent.qps_basis is None and out.intent.input_tokens_basis is None
    assert not any("stated volume" in n or "document size" in n for n in out.spec.notes)


def test_a_relative_change_keeps_the_rules_arithmetic_over_the_llms_reading(catalog):
    """'make it 10x the users' after '1000 users': an LLM answering 10 users is overruled by the rules'
    10,000 (the arithmetic on the thread's own value); other fields stay the LLM's."""
    answer = json.dumps({"use_case": "chatbot", "user_count": 10, "preferred_gpu_types": ["H100"]})
    out = extract_with_llm(
        "make it 10x the users",
        history=["support chatbot for 1000 users"],
        catalog=catalog,
        backend=ScriptedBackend(answer),
    )
    assert out.source == "llm" and out.spec.user_count == 10_000
    assert out.spec.preferred_gpu_types == ["H100-SXM"]
