"""Rule-based intent extraction: numbers, names, priorities, negations and refinements."""

from __future__ import annotations

import pytest

from planner.catalog import Catalog
from planner.errors import InvalidInputError
from planner.intent import extract, parse_intent, resolve_use_case
from planner.intent_numbers import find_budget, find_scales, find_slo, find_tokens, find_users, normalise_text
from planner.intent_volumes import find_document_size, find_qps
from planner.spec import Level


@pytest.mark.parametrize(
    ("text", "users"),
    [
        ("chatbot for 5k users", 5000),
        ("5,000-10,000 users", 10000),
        ("a team of 20", 20),
        ("1.2M customers", 1_200_000),
        ("two thousand engineers", 2000),
        ("two thousand five hundred users", 2500),  # a number spelled in several words is one number
        ("twenty-five thousand customers", 25000),
        ("one hundred and fifty nurses", 150),
        ("thirty five analysts", 35),
        ("a few hundred users", 300),
        ("nineteen engineers", 19),
        ("a 40-person team", 40),
        ("around 300 internal support agents", 300),
        ("200 ms TTFT for users", None),
        ("prompts of 500 tokens per user", None),
    ],
)
def test_user_counts(text, users):
    assert find_users(normalise_text(text), refinement=False)[0] == users


@pytest.mark.parametrize(
    ("text", "users"),
    [("voice assistant for a call center, 200 concurrent calls", 200), ("50 simultaneous chat sessions", 50)],
)
def test_concurrent_sessions_are_concurrent_users(text, users):
    assert find_users(normalise_text(text), refinement=False) == (users, True)


def test_concurrent_users_are_flagged():
    assert find_users(normalise_text("5000 concurrent users"), refinement=False) == (5000, True)


@pytest.mark.parametrize(
    ("text", "qps"),
    [
        ("about 20 qps", 20.0),
        ("1.5k requests per second", 1500.0),
        ("600 requests per minute", 10.0),
        ("batch summarization of 1,000,000 documents per day", 1e6 / 86400),
        ("1e6 documents per day", 1e6 / 86400),
        ("20k tickets a week", 20000 / (7 * 86400)),
        ("36,000 emails per hour", 10.0),
        ("summarize 50k legal contracts a day", 50000 / 86400),  # describing words before the items
        ("2,000 customer support tickets per hour", 2000 / 3600),
        ("5 medical records per day", 5 / 86400),  # 'm' of 'medical' is not a million
        ("8 gpus and documents per day", None),
        ("translate 10 million product descriptions overnight", 1e7 / (8 * 3600)),  # an 8-hour window
        ("process 1M documents in 6 hours", 1e6 / (6 * 3600)),
        ("500 users, each asks 20 questions a day", None),  # each user's volume, not the total
        ("every agent handles 40 tickets a day", None),
        ("a code review bot for ~500 PRs a day", 500 / 86400),
        ("translate 10k documents nightly", 10000 / 86400),  # 'daily', 'nightly', 'hourly' ...
        ("summarize 5000 call transcripts daily", 5000 / 86400),
        ("3,600 emails hourly", 1.0),
    ],
)
def test_qps(text, qps):
    found = find_qps(normalise_text(text))
    assert found == (None if qps is None else pytest.approx(qps))


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("1,000,000 documents per day, 4000 tokens each", {"input_tokens": 4000}),
        ("summarize documents, each about 4000 tokens", {"input_tokens": 4000}),
        ("review 1500-token contracts", {"input_tokens": 1500}),
        ("answers of 200 tokens each", {"output_tokens": 200}),  # each answer: an output length
        ("prompts of 800 tokens, 4000 tokens each", {"input_tokens": 800}),  # the stated prompt wins
        ("500 PRs a day, each diff around 3000 tokens", {"input_tokens": 3000}),
        ("each answer around 200 tokens", {"output_tokens": 200}),  # an answer's length is an output
        ("replies of about 150 words", {"output_tokens": 200}),  # 150 words / 0.75 words a token
        ("200-word summaries", {"output_tokens": 267}),
    ],
)
def test_the_size_of_each_item_is_its_prompt_length(text, tokens):
    assert find_tokens(normalise_text(text)) == tokens


@pytest.mark.parametrize(
    ("text", "slo"),
    [
        ("TTFT under 300ms and TPOT 40 ms", {"ttft_ms": 300.0, "tpot_ms": 40.0}),
        ("300ms TTFT, 40ms TPOT", {"ttft_ms": 300.0, "tpot_ms": 40.0}),
        ("sub-500ms latency", {"ttft_ms": 500.0}),
        ("full response within 5 seconds", {"e2e_ms": 5000.0}),
        ("use A100s, TTFT 200 ms", {"ttft_ms": 200.0}),
        ("at least 25 tokens/s per user", {"tpot_ms": 40.0}),
        ("must be under 100ms to first token", {"ttft_ms": 100.0}),
        ("under 2 s for the first token", {"ttft_ms": 2000.0}),
        ("p99 under 2 seconds", {"e2e_ms": 2000.0}),  # a bare target: over a second, a whole answer
        ("p95 below 300 ms", {"ttft_ms": 300.0}),
        ("a chatbot that streams at 40 tokens/s", {"tpot_ms": 25.0}),  # one stream's speed
        ("answers should stream at least 20 tok/s", {"tpot_ms": 50.0}),
        ("a throughput of 5000 tokens/s", {}),  # the total, not a stream's
    ],
)
def test_slo_targets(text, slo):
    assert find_slo(normalise_text(text)) == slo


def test_budget_per_month_and_per_year():
    assert find_budget(normalise_text("budget of $5k/month")) == 5000
    assert find_budget(normalise_text("we can spend 120,000 dollars a year")) == 10000
    assert find_budget(normalise_text("5000 users")) is None
    assert find_budget(normalise_text("at most 1 GPU, budget 600 a month")) == 600


def test_gpu_and_model_aliases_resolve_to_catalog_ids(catalog):
    i = parse_intent("llama 3.1 70b on 8x h100 sxm", catalog=catalog)
    assert i.preferred_gpu_types == ["H100-SXM"]
    assert i.preferred_models == ["meta-llama/Llama-3.1-70B-Instruct"]


def test_negations_exclude_gpus_and_use_cases(catalog):
    i = parse_intent("a coding assistant, not autocomplete; no H100s, use L40S", catalog=catalog)
    assert i.use_case == "code_generation_detailed"
    assert i.excluded_gpu_types == ["H100-SXM"]
    assert i.preferred_gpu_types == ["L40S"]


@pytest.mark.parametrize(
    ("text", "use_case"),
    [
        # how the work runs outweighs what it is: a nightly or batch job gets the batch SLOs
        ("summarize 1M documents per day, batch, no latency requirement", "batch_offline"),
        ("translate 10k documents nightly", "batch_offline"),
        ("nightly summaries of call transcripts for 200 agents", "batch_offline"),
        ("classify 2 million support tickets offline", "batch_offline"),
        # ... but not the night shift's chatbot, nor an assistant that works without a network
        ("a chatbot for our overnight support staff", "chatbot_conversational"),
        ("an assistant that works offline for our field engineers", "chatbot_conversational"),
    ],
)
def test_a_batch_job_is_a_batch_whatever_its_task(catalog, text, use_case):
    assert parse_intent(text, catalog=catalog).use_case == use_case


def test_excluding_a_gpu_family_excludes_every_variant_of_it(catalog):
    """'no A100' rules out the 40 GB and the 80 GB card; naming one variant rules out only that one."""
    assert sorted(parse_intent("chatbot, no A100s", catalog=catalog).excluded_gpu_types) == [
        "A100-40GB",
        "A100-80GB",
    ]
    assert parse_intent("chatbot, no A100-40GB", catalog=catalog).excluded_gpu_types == ["A100-40GB"]
    assert parse_intent("chatbot on A100s", catalog=catalog).excluded_gpu_types == []


def test_a_vendor_or_an_architecture_rules_out_all_its_gpus(catalog):
    """'no AMD', 'NVIDIA only', 'no Hopper': every GPU of that vendor or architecture, not one."""
    from dataclasses import replace

    hopper = ["H100-SXM", "H200"]
    catalog = Catalog(
        models=catalog.models,
        gpus=tuple(replace(g, architecture="hopper") if g.id in hopper else g for g in catalog.gpus),
        prices=catalog.prices,
        templates=catalog.templates,
    )
    amd = sorted(g.id for g in catalog.gpus if g.vendor == "amd")
    nvidia = sorted(g.id for g in catalog.gpus if g.vendor == "nvidia")
    assert amd and nvidia
    assert sorted(parse_intent("RAG for 400 engineers, no AMD", catalog=catalog).excluded_gpu_types) == amd
    assert sorted(parse_intent("chatbot, NVIDIA GPUs only", catalog=catalog).excluded_gpu_types) == amd
    assert sorted(parse_intent("chatbot, only AMD", catalog=catalog).excluded_gpu_types) == nvidia
    assert sorted(parse_intent("chatbot, no hopper", catalog=catalog).excluded_gpu_types) == hopper
    named = parse_intent("chatbot on L40S, not AMD", catalog=catalog)
    assert named.preferred_gpu_types == ["L40S"] and sorted(named.excluded_gpu_types) == amd
    assert parse_intent("chatbot on AMD MI300X", catalog=catalog).excluded_gpu_types == []
    assert parse_intent("chatbot, no nvidia nemotron", catalog=catalog).excluded_gpu_types == []  # a maker


def test_prefer_over_demotes_without_excluding(catalog):
    i = parse_intent("prefer L40S over H100", catalog=catalog)
    assert i.preferred_gpu_types == ["L40S"]
    assert i.excluded_gpu_types == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latency is critical", {"latency": Level.HIGH}),
        ("cost doesn't matter", {"cost": Level.LOW}),
        ("cheap as possible", {"cost": Level.HIGH}),
        ("quality matters most", {"accuracy": Level.HIGH}),
        ("latency isn't critical", {"latency": Level.LOW}),
        ("speed over accuracy", {"latency": Level.HIGH, "accuracy": Level.LOW}),
        ("there is no latency requirement", {"latency": Level.LOW}),
        ("no rush", {"latency": Level.LOW}),
    ],
)
def test_priorities(catalog, text, expected):
    p = parse_intent(f"chatbot for 10 users; {text}", catalog=catalog).priorities.model_dump()
    for concern, level in expected.items():
        assert p[concern] == level


def test_history_refines_the_spec(catalog):
    history = ["translation for 300 users on H100", "make it 3000 users"]
    spec = extract("actually 200 ms TTFT, and use A100s", history=history, catalog=catalog)
    assert (spec.use_case, spec.user_count, spec.slo.ttft_ms) == ("translation", 3000, 200.0)
    assert spec.preferred_gpu_types == ["A100-80GB"]


def test_missing_essentials_ask_questions_and_still_give_a_spec(catalog):
    spec = extract("we want to try an LLM", catalog=catalog)
    assert len(spec.questions) == 2
    assert spec.user_count == 100 and spec.use_case == "chatbot_conversational"
    assert spec.traffic.peak_qps > 0


def test_a_batch_without_a_volume_asks_how_much_work_and_by_when(catalog):
    spec = extract("classify 2 million support tickets offline", catalog=catalog)
    assert spec.use_case == "batch_offline"
    assert any("in what time" in q and f"{spec.traffic.peak_qps:,.3g} req/s" in q for q in spec.questions)
    assert not any("How many people" in q for q in spec.questions)
    answered = extract("classify 2 million support tickets overnight", catalog=catalog)
    assert answered.traffic.peak_qps == pytest.approx(2e6 / (8 * 3600), rel=0.01)
    assert not answered.questions


@pytest.mark.parametrize(
    ("text", "scales"),
    [
        ("what about 10x the users?", {"users": 10.0}),
        ("twice as many users", {"users": 2.0}),
        ("users will triple next year", {"users": 3.0}),
        ("50% more users", {"users": 1.5}),
        ("double the traffic", {"qps": 2.0}),
        ("traffic doubles", {"qps": 2.0}),
        ("3 times the load", {"qps": 3.0}),
        ("20% fewer requests", {"qps": 0.8}),
        ("half the budget", {"budget": 0.5}),
        ("we expect traffic to grow 3x next year", {"qps": 3.0}),
        ("users are expected to double", {"users": 2.0}),
        ("traffic goes up 4x at launch", {"qps": 4.0}),
        ("a chatbot for 1000 users", {}),
        ("10 more users", {}),  # added, not scaled; and not "10 users" either
    ],
)
def test_relative_changes_are_factors_not_counts(text, scales):
    t = normalise_text(text)
    assert find_scales(t) == scales
    assert find_users(t, refinement=True)[0] == (1000 if "1000" in text else None)


def test_a_relative_change_scales_what_the_conversation_said(catalog):
    assert (
        extract("what about 10x the users?", history=["chatbot for 1000 users"], catalog=catalog).user_count
        == 10_000
    )
    rated = extract("double the traffic", history=["support chatbot at 20 qps"], catalog=catalog)
    assert rated.traffic.peak_qps == pytest.approx(40)
    volume = extract("traffic triples", history=["summarize 50k documents a day"], catalog=catalog)
    assert volume.traffic.mean_qps == pytest.approx(3 * 50_000 / 86_400, rel=0.01)
    assert any("× 3 =" in n for n in volume.notes)  # the working shows the factor
    budget = extract("half the budget", history=["chatbot, budget $4000 a month"], catalog=catalog)
    assert budget.budget_usd_month == 2000
    alone = extract("a chatbot, 10x the users", catalog=catalog)  # nothing to scale yet: ask
    assert alone.user_count == 100 and any("How many people" in q for q in alone.questions)


def test_a_whole_answer_target_tighter_than_the_tpot_asks_whether_the_first_token_was_meant(catalog):
    spec = extract("support bot for 100 users, p99 latency < 2s", catalog=catalog)
    assert spec.slo.e2e_ms == 2000
    per_token = (2000 - spec.slo.ttft_ms) / (spec.traffic.output_tokens_mean - 1)
    assert any(f"about {per_token:.0f} ms per token" in q and "TTFT under 2 s" in q for q in spec.questions)
    relaxed = extract("chatbot for 100 users, full answer within 60 seconds", catalog=catalog)
    assert not any("whole answer" in q for q in relaxed.questions)


def test_traffic_arithmetic_is_shown(catalog):
    spec = extract("support chatbot for 1000 users", catalog=catalog)
    assert spec.traffic.peak_qps == pytest.approx(1000 * 0.1 * 2 / 60 * 3)
    assert "1,000 users × 10% active" in spec.traffic.derivation


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "chatbot for 10^12 users",
        "0 contracts a day",
        "1e30 documents per day",
        "process 5 documents in 0 hours",
        "summarize contracts, each about 0 pages",
        "chatbot with prompts of 5000000 tokens",  # had raised pydantic's ValidationError
        "a 9999999 page manual",
    ],
)
def test_bad_input_is_an_actionable_error(catalog, text):
    with pytest.raises(InvalidInputError) as err:
        extract(text, catalog=catalog)
    message = str(err.value)
    assert "e.g." in message or "1 to 100,000,000" in message or "give a prompt length of 1 to" in message


def test_use_case_synonyms_map_onto_the_catalog(catalog):
    assert resolve_use_case("code_generation", catalog) == "code_generation_detailed"
    assert resolve_use_case("astrology", catalog) is None


def test_extraction_is_deterministic(catalog):
    text = "RAG over policies for 220 underwriters, qwen 7b on azure, accuracy is key"
    assert parse_intent(text, catalog=catalog) == parse_intent(text, catalog=catalog)


def test_a_token_volume_becomes_a_request_rate_over_the_request_size(catalog):
    """'2M tokens per day' at the template's 1,500 + 700 tokens a request is 2e6 / 2,200 / 86,400 req/s."""
    spec = extract("a code assistant, 2M tokens per day", catalog=catalog)
    per_request = spec.traffic.input_tokens_mean + spec.traffic.output_tokens_mean
    assert spec.traffic.mean_qps == pytest.approx(2e6 / per_request / 86400, rel=1e-3)  # a day's mean
    assert spec.traffic.peak_qps == pytest.approx(spec.traffic.mean_qps * spec.traffic.peak_factor)
    hourly = extract("a code assistant, 90M tokens per hour", catalog=catalog)
    assert hourly.traffic.peak_qps == pytest.approx(90e6 / per_request / 3600, rel=1e-3)  # planned as is
    assert any(
        n.startswith("request rate from the stated volume: 2,000,000 tokens a day") for n in spec.notes
    )
    stated = extract("a code assistant, 2M tokens per day, 30 requests per second", catalog=catalog)
    assert stated.traffic.peak_qps == pytest.approx(30.0)  # a stated rate wins over a volume


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("summarize contracts, each about 20 pages", 13333),  # 20 x 500 words / 0.75 words a token
        ("review 20-page contracts", 13333),
        ("summarize 30-page legal reports", 20000),  # describing words before the documents
        ("2,000-word articles", 2667),
        ("reports of about 30 pages", 20000),
        ("we have 20 pages of notes", None),  # no document is said to be that long
    ],
)
def test_a_document_size_in_pages_or_words_becomes_a_prompt_length(text, tokens):
    size = find_document_size(normalise_text(text))
    assert (size[0] if size else None) == tokens


def test_a_stated_volume_and_document_size_show_their_working_in_the_spec(catalog):
    spec = extract("summarize 50k legal contracts a day, each about 20 pages, batch is fine", catalog=catalog)
    # a day's volume is the mean rate; the peak is the use case's peak factor above it
    assert spec.traffic.mean_qps == pytest.approx(50000 / 86400)
    assert spec.traffic.peak_qps == pytest.approx(50000 / 86400 * spec.traffic.peak_factor)
    assert spec.traffic.input_tokens_mean == 13333
    working = "request rate from the stated volume: 50,000 contracts a day ÷ 86,400 s = 0.579 req/s"
    assert working in spec.notes
    assert any("20 pages × 500 words a page" in n for n in spec.notes)
    assert not spec.questions  # the volume answers "how many requests"
    hourly = extract("summarize 36,000 contracts per hour", catalog=catalog)
    assert hourly.traffic.peak_qps == pytest.approx(10.0)  # an hour's volume is planned as it is
    overnight = extract("translate 1 million product descriptions overnight", catalog=catalog)
    assert overnight.traffic.peak_qps == pytest.approx(1e6 / 28800)  # so is a batch's deadline
    stated = extract("summarize 50k legal contracts a day, 3 requests per second at peak", catalog=catalog)
    assert stated.traffic.peak_qps == pytest.approx(3.0)  # a stated rate wins over a volume
    later = parse_intent(
        "prompts of 3000 tokens", history=["summarize contracts, each about 20 pages"], catalog=catalog
    )
    assert later.input_tokens == 3000 and later.input_tokens_basis is None  # the old working is dropped


def test_a_volume_each_user_handles_sets_the_rate_per_user(catalog):
    """300 agents x 40 tickets a day each, over an 8-hour working day: 0.417 req/s mean."""
    spec = extract("helpdesk assistant for 300 agents, each agent handles 40 tickets a day", catalog=catalog)
    assert spec.user_count == 300 and spec.traffic.users_at_work
    assert spec.traffic.mean_qps == pytest.approx(300 * 40 / (8 * 3600))
    assert spec.traffic.peak_qps == pytest.approx(spec.traffic.mean_qps * spec.traffic.peak_factor)
    assert any("40 tickets a day each ÷ 480 min" in n for n in spec.notes)
    from planner.whatif import apply_changes

    doubled = apply_changes(spec, [("users", "600")], catalog)  # the per-user rate scales with users
    assert doubled.traffic.mean_qps == pytest.approx(2 * spec.traffic.mean_qps)
    assert "600 users at work" in doubled.traffic.derivation


def test_a_context_shorter_than_the_requests_is_asked_about(catalog):
    spec = extract("summarize 30-page legal reports for 20 lawyers, 4k context", catalog=catalog)
    assert spec.traffic.input_tokens_mean == 20000 and spec.context_length_tokens == 4000
    assert any("4,000-token context is shorter than a typical request" in q for q in spec.questions)
    fine = extract("RAG over manuals for 20 engineers, 32k context", catalog=catalog)
    assert not any("context is shorter" in q for q in fine.questions)
