"""Model recommendation: filters with reasons, and quality per use case."""

from __future__ import annotations

from planner.intent import extract
from planner.recommend import candidate_models, context_need_tokens, quality_for
from planner.spec import DeploymentSpec


def _spec(catalog, text, **changes) -> DeploymentSpec:
    return extract(text, catalog=catalog).model_copy(update=changes)


def _ids(cands):
    return [c.model.id for c in cands]


def test_code_use_case_keeps_code_models_and_prefers_code_benchmarks(catalog):
    keep, rejected = candidate_models(_spec(catalog, "coding assistant for 50 devs"), catalog)
    assert "Qwen/Qwen2.5-Coder-32B-Instruct" in _ids(keep)
    assert {r.model_id for r in rejected} >= {"mistralai/Mistral-7B-Instruct-v0.3"}  # not tagged for code
    assert _ids(keep)[0] == "Qwen/Qwen2.5-Coder-32B-Instruct"  # HumanEval 92.7


def test_preferred_models_restrict_and_exclusions_remove(catalog):
    spec = _spec(catalog, "chatbot for 10 users with mistral 7b")
    keep, rejected = candidate_models(spec, catalog)
    assert _ids(keep) == ["mistralai/Mistral-7B-Instruct-v0.3"]
    assert all(r.reason == "not among the models asked for" for r in rejected)
    spec = _spec(catalog, "chatbot for 10 users", excluded_models=["mistralai/Mistral-7B-Instruct-v0.3"])
    assert "mistralai/Mistral-7B-Instruct-v0.3" not in _ids(candidate_models(spec, catalog)[0])


def test_licence_and_context_filters_give_reasons(catalog):
    keep, rejected = candidate_models(_spec(catalog, "chatbot for 10 users", license="apache-2.0"), catalog)
    assert all("apache" in c.model.license for c in keep)
    assert any("licence llama3.1 is not apache-2.0" in r.reason for r in rejected)
    spec = _spec(catalog, "chatbot for 10 users", context_length_tokens=100_000)
    keep, rejected = candidate_models(spec, catalog)
    assert all(c.model.max_context_tokens >= 100_000 for c in keep)
    assert any("shorter than the 100,000 needed" in r.reason for r in rejected)


def test_context_need_covers_prompt_and_answer_with_spread(catalog):
    spec = _spec(catalog, "summarize 100-page reports for 20 analysts")
    t = spec.traffic
    assert context_need_tokens(spec) >= t.input_tokens_mean + t.output_tokens_mean


def test_quality_falls_back_to_tier_then_size(catalog):
    m = catalog.model("mistral 7b")
    assert quality_for(m, ("code",))[1] == "humaneval"
    bare = m.__class__(**{**m.__dict__, "quality": (), "quality_tier": "large"})
    assert quality_for(bare, ("chat",)) == (0.75, "tier")
    assert quality_for(bare.__class__(**{**bare.__dict__, "quality_tier": ""}), ("chat",))[1] == "size"


def test_a_stated_context_shorter_than_the_requests_does_not_cut_them(catalog):
    spec = _spec(catalog, "summarize long reports for 20 analysts").model_copy(
        update={"context_length_tokens": 1000}
    )
    t = spec.traffic
    assert context_need_tokens(spec) >= t.input_tokens_mean + t.output_tokens_mean  # not the stated 1,000
    longer = spec.model_copy(update={"context_length_tokens": 500_000})
    assert context_need_tokens(longer) == 500_000  # a longer stated context wins
