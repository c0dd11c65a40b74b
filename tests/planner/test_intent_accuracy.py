"""Field accuracy of the rule-based extractor on the realistic cases in data/intent_cases.jsonl."""

from __future__ import annotations

from benchmarks.eval_intent import FIELDS, load_cases, score


def test_case_set_is_large_and_varied():
    cases = load_cases()
    assert len(cases) >= 60
    assert sum(1 for c in cases if c.get("history")) >= 10
    assert len({c["expected"]["use_case"] for c in cases}) >= 8


def test_rule_based_accuracy_is_at_least_95_percent_per_field(catalog):
    tally, misses, _ = score(load_cases(), catalog)  # speed: `benchmarks/eval_intent.py` prints it
    for field in FIELDS:
        ok, total = tally[field]
        assert ok / total >= 0.95, (field, ok, total, [m for m in misses if f" {field}:" in m])
