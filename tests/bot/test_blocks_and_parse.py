"""The pure layer: Block Kit builders keep Slack's limits; modal state becomes spec edits or field errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import blocks, ids
from bot.modals import spec_modal, whatif_modal
from bot.parse import SPEC_FIELDS, apply_spec_edits, parse_whatif
from planner.catalog import Catalog
from planner.plan import Option, PlanResult, Predicted
from planner.spec import DeploymentSpec


@pytest.fixture(scope="module")
def catalog(seeded_sqlite_template: Any) -> Catalog:
    from kb.repository import load_catalog
    from kb.session import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{seeded_sqlite_template}")
    with make_session_factory(engine)() as session:
        found = load_catalog(session=session)
    engine.dispose()
    return found


@pytest.fixture
def spec(catalog: Catalog) -> DeploymentSpec:
    from planner.intent import extract

    return extract("support chatbot for 1000 users, latency matters", catalog=catalog)


def option(rank: int, *, explanation: str = "fits") -> Option:
    predicted = Predicted(ttft_ms=100.0 + rank, tpot_ms=20.0, e2e_ms=5000.0, throughput_rps=2.0, max_qps=4.0)
    return Option(
        rank=rank,
        model_id=f"org/model-{rank}",
        gpu_type="H100-SXM",
        gpu_count=2,
        tensor_parallel=2,
        replicas=1,
        precision="bf16",
        predicted=predicted,
        cost_per_month_usd=1234.5 * rank,
        meets_slo=True,
        pareto=rank == 1,
        score=1 / rank,
        explanation=explanation,
    )


def plan(n: int, spec: DeploymentSpec) -> PlanResult:
    return PlanResult(
        spec=spec.model_dump(mode="json"),
        options=[option(i) for i in range(1, n + 1)],
        infeasible=[],
        questions=[],
    )


def test_options_show_the_top_five_and_say_how_many_more(spec: DeploymentSpec) -> None:
    message = blocks.options_message(plan(30, spec), plan_id=7)
    text = json.dumps(message, ensure_ascii=False)
    assert "Top 5 of 30 options" in text and "…and 25 more options" in text
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {ids.OPTION_DETAILS, ids.OPTION_WHATIF, ids.OPTION_CHOOSE}
    assert {b["value"] for b in buttons} == {f"7|{r}" for r in range(1, 6)}


def test_no_option_says_what_would_give_one_and_counts_the_models_left_out(spec: DeploymentSpec) -> None:
    from planner.plan import Infeasible

    missed = [Infeasible(model_id=f"org/m{i}", gpu_type="L4", reason=f"miss {i}") for i in range(7)]
    left_out = [
        Infeasible(model_id=f"org/x{i}", gpu_type="*", reason="not among the models asked for")
        for i in range(40)
    ]
    result = PlanResult(
        spec=spec.model_dump(mode="json"),
        options=[],
        infeasible=[*missed, *left_out],
        questions=[],
        relax="raise the budget to $2,613/month",
    )
    text = json.dumps(blocks.options_message(result, plan_id=1), ensure_ascii=False)
    assert "To get one: raise the budget to $2,613/month." in text
    assert "• m0 on L4: miss 0" in text and "miss 5" not in text and "…and 2 more combinations" in text
    assert text.count("not among the models asked for") == 1 and "• 40 models: not among" in text


def test_options_quote_the_expected_error_and_mark_options_near_a_target(spec: DeploymentSpec) -> None:
    near = option(2).model_copy(update={"within_error": ["TTFT"]})
    note = "Expected error (mean latencies, held out on published benchmarks): TTFT ±30% (1 in 10 ...)"
    result = plan(2, spec).model_copy(update={"options": [option(1), near], "notes": ["traffic", note]})
    message = blocks.options_message(result, plan_id=3)
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert "TTFT near target" not in sections[0] and ":grey_question: TTFT near target" in sections[1]
    assert message["blocks"][-1]["type"] == "context" and "TTFT ±30%" in json.dumps(
        message["blocks"][-1], ensure_ascii=False
    )
    assert "traffic" not in json.dumps(message)  # only the error note joins the options


def test_no_message_exceeds_fifty_blocks_or_the_text_limits(spec: DeploymentSpec) -> None:
    message = blocks.options_message(plan(40, spec), plan_id=1, top=40)
    assert len(message["blocks"]) == 50
    assert message["blocks"][-1]["elements"][0]["text"].startswith("…and ")
    long = blocks.options_message(
        PlanResult(
            spec=spec.model_dump(mode="json"),
            questions=[],
            infeasible=[],
            options=[option(1, explanation="x" * 5000)],
        ),
        plan_id=1,
    )
    assert all(len(b["text"]["text"]) <= 3000 for b in long["blocks"] if b["type"] == "section")
    assert len(blocks.header("h" * 500)["text"]["text"]) == 150
    assert len(blocks.button("b" * 100, "a", "v")["text"]["text"]) == 75


def test_the_spec_summary_carries_review_and_recommend(spec: DeploymentSpec) -> None:
    message = blocks.spec_message(spec, thread_id="T1:C1:1.2", version=3)
    actions = message["blocks"][-1]
    assert [e["action_id"] for e in actions["elements"]] == [ids.REVIEW_SPEC, ids.RECOMMEND]
    assert all(e["value"] == "T1:C1:1.2|3" for e in actions["elements"])
    assert "1,000" in json.dumps(message) and "version 3" in json.dumps(message)
    worked = spec.model_copy(update={"notes": ["request rate from the volume: 50,000 contracts a day"]})
    shown = json.dumps(blocks.spec_message(worked, thread_id="T1:C1:1.2", version=4))
    assert "50,000 contracts a day" in shown  # the working behind a derived number is in the thread


def test_errors_carry_a_reference_and_an_optional_retry() -> None:
    message = blocks.error_message("the queue is down", ref="ab12cd34", retry_value="T1:C1:1.2|1")
    assert "ab12cd34" in message["text"] and message["blocks"][-1]["elements"][0]["action_id"] == ids.RETRY


def test_the_spec_modal_keeps_modal_limits(spec: DeploymentSpec, catalog: Catalog) -> None:
    view = spec_modal(
        spec.model_dump(mode="json"),
        private_metadata="m" * 5000,
        use_cases=[t.use_case for t in catalog.templates],
        version=1,
    )
    assert len(view["blocks"]) <= 100 and len(view["private_metadata"]) == 3000
    assert all(len(view[k]["text"]) <= 24 for k in ("title", "submit", "close"))
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [f.path for f in SPEC_FIELDS]
    numbers = [b["element"] for b in inputs if b["element"]["type"] == "number_input"]
    assert numbers and all(
        "is_decimal_allowed" in e and isinstance(e.get("initial_value", ""), str) for e in numbers
    )
    assert whatif_modal(private_metadata="{}", title_option="1")["callback_id"] == ids.WHATIF_MODAL


def typed(**values: str) -> dict[str, Any]:
    return {
        k.replace("__", "."): {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()
    }


def test_edits_rescale_the_traffic_and_canonicalise_names(spec: DeploymentSpec, catalog: Catalog) -> None:
    current = spec.model_dump(mode="json")
    edited, errors = apply_spec_edits(
        typed(user_count="5,000", preferred_gpu_types="h100 sxm, a100 80gb"),
        current,
        catalog=catalog,
        partial=True,
    )
    assert errors == {} and edited is not None
    assert edited.user_count == 5000 and edited.preferred_gpu_types == ["H100-SXM", "A100-80GB"]
    assert edited.traffic.peak_qps == pytest.approx(spec.traffic.peak_qps * 5)
    pinned, _ = apply_spec_edits(typed(traffic__peak_qps="12"), current, catalog=catalog, partial=True)
    assert pinned is not None and pinned.traffic.qps_given and pinned.traffic.peak_qps == 12


@pytest.mark.parametrize(
    ("values", "block", "fragment"),
    [
        ({"user_count": "lots"}, "user_count", "not a number"),
        ({"user_count": "2.5"}, "user_count", "whole number"),
        ({"user_count": "0"}, "user_count", "greater than or equal to 1"),
        ({"slo__ttft_ms": "-1"}, "slo.ttft_ms", "greater than 0"),
        ({"preferred_models": "llama-9-900b"}, "preferred_models", "unknown model"),
        ({"use_case": "weather forecasting"}, "use_case", "unknown use case"),
        ({"budget_usd_month": "0"}, "budget_usd_month", "greater than 0"),
        ({"traffic__prefix_tokens": "90000"}, "traffic.prefix_tokens", "must be shorter than the prompt"),
        ({"precision": "fp9"}, "precision", "choose one of any, bf16"),
        ({"context_length_tokens": "100"}, "context_length_tokens", "shorter than a typical request"),
    ],
)
def test_bad_input_gets_an_error_under_its_field(
    spec: DeploymentSpec, catalog: Catalog, values: dict[str, str], block: str, fragment: str
) -> None:
    edited, errors = apply_spec_edits(
        typed(**values), spec.model_dump(mode="json"), catalog=catalog, partial=True
    )
    assert edited is None and list(errors) == [block] and fragment in errors[block]


def selected(block: str, value: str) -> dict[str, Any]:
    return {block: {ids.INPUT_ACTION: {"type": "static_select", "selected_option": {"value": value}}}}


def test_precision_prefix_and_context_are_editable(spec: DeploymentSpec, catalog: Catalog) -> None:
    current = spec.model_dump(mode="json")
    values = {
        **selected("precision", "fp8"),
        **typed(traffic__prefix_tokens="120", context_length_tokens="32000"),
    }
    edited, errors = apply_spec_edits(values, current, catalog=catalog, partial=True)
    assert errors == {} and edited is not None
    assert edited.precision == "fp8" and edited.traffic.prefix_tokens == 120
    assert edited.context_length_tokens == 32000
    again, _ = apply_spec_edits(
        selected("precision", "any"), edited.model_dump(mode="json"), catalog=catalog, partial=True
    )
    assert again is not None and again.precision is None  # 'any' drops the constraint
    view = spec_modal(current, private_metadata="{}", version=1)
    precision = next(b for b in view["blocks"] if b.get("block_id") == "precision")
    assert precision["element"]["initial_option"]["value"] == "any"


def test_whatif_modal_takes_a_rate_and_a_precision(catalog: Catalog) -> None:
    values = {**typed(whatif_qps="12.5"), **selected(ids.WHATIF_PRECISION, "fp8")}
    changes, errors = parse_whatif(values, catalog=catalog)
    assert errors == {} and changes == {"qps": 12.5, "precision": "fp8"}
    _, errors = parse_whatif(typed(whatif_qps="-3"), catalog=catalog)
    assert "must be above 0" in errors[ids.WHATIF_QPS]


def test_whatif_changes_and_errors(catalog: Catalog) -> None:
    changes, errors = parse_whatif(typed(whatif_gpu="a100 80gb", whatif_users="3000"), catalog=catalog)
    assert errors == {} and changes == {"gpu": "A100-80GB", "user_count": 3000}
    _, errors = parse_whatif(typed(whatif_gpu="Z9000", whatif_ttft_ms="-5"), catalog=catalog)
    assert set(errors) == {ids.WHATIF_GPU, ids.WHATIF_TTFT} and "unknown GPU" in errors[ids.WHATIF_GPU]
    _, errors = parse_whatif({}, catalog=catalog)
    assert "change at least one thing" in errors[ids.WHATIF_GPU]
