"""DeploymentSpec validation: bounds with messages a person can act on; the LLM's JSON schema."""

from __future__ import annotations

import pytest

from planner.errors import InvalidInputError
from planner.intent import extract
from planner.spec import DeploymentSpec, check_spec, intent_json_schema


def _spec_dict(catalog, **changes):
    data = extract("support chatbot for 1000 users", catalog=catalog).model_dump()
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"user_count": 10**12}, "user_count=1,000,000,000,000"),
        ({"user_count": 0}, "1 to 100,000,000"),
        ({"traffic__peak_qps": -3}, "--qps"),
        ({"slo__ttft_ms": 0}, "--ttft-ms"),
        ({"max_gpus": 0}, "at least 1 GPU"),
    ],
)
def test_out_of_range_values_are_rejected_with_a_fix(catalog, change, needle):
    with pytest.raises(InvalidInputError) as err:
        check_spec(_spec_dict(catalog, **change))
    assert needle in str(err.value)


def test_round_trip_through_json(catalog):
    spec = extract("code completion for 300 devs on L4, p99 TTFT 150 ms", catalog=catalog)
    again = DeploymentSpec.model_validate_json(spec.model_dump_json())
    assert again == spec
    assert again.slo.percentile == "p99" and again.slo.ttft_ms == 150


def test_contract_keys_are_present(catalog):
    keys = set(extract("chatbot for 10 users", catalog=catalog).model_dump())
    assert {
        "use_case",
        "user_count",
        "priorities",
        "preferred_gpu_types",
        "preferred_models",
        "experience_class",
        "domain",
        "traffic",
        "slo",
        "questions",
    } <= keys


def test_intent_schema_is_a_json_schema_object():
    schema = intent_json_schema()
    assert schema["type"] == "object"
    assert {"use_case", "user_count", "preferred_gpu_types", "priorities"} <= set(schema["properties"])
