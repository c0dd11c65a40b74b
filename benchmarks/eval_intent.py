"""Field accuracy of the rule-based intent extractor on tests/planner/data/intent_cases.jsonl.

    .venv/bin/python benchmarks/eval_intent.py [--kb] [--show-misses]

Fields scored: use_case, user_count, preferred_gpu_types, preferred_models (as sets), priorities
(all three levels; unstated ones are "medium") and, where a case states them, excluded GPUs/models.
By default the test catalog (tests/planner/catalog_fixture.py) is used; --kb uses the knowledge base.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "planner" / "data" / "intent_cases.jsonl"
FIELDS = ("use_case", "user_count", "preferred_gpu_types", "preferred_models", "priorities")
SET_FIELDS = {"preferred_gpu_types", "preferred_models", "excluded_gpu_types", "excluded_models"}


def load_cases(path: Path = CASES) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _actual(intent: Any, field: str) -> Any:
    value = getattr(intent, field)
    if field == "priorities":
        return {k: str(v) for k, v in value.model_dump().items()}
    return sorted(value) if field in SET_FIELDS else value


def _expected(case: dict[str, Any], field: str) -> Any:
    value = case["expected"].get(field)
    if field == "priorities":
        return {"latency": "medium", "cost": "medium", "accuracy": "medium", **(value or {})}
    return sorted(value or []) if field in SET_FIELDS else value


def score(cases: list[dict[str, Any]], catalog: Any) -> tuple[dict[str, list[int]], list[str], float]:
    """Per field [correct, total], the misses (one line each), and the slowest extraction in CPU ms
    (CPU time: on a shared machine wall time measures the neighbours)."""
    from planner.intent import parse_intent

    tally: dict[str, list[int]] = {}
    misses: list[str] = []
    slowest_ms = 0.0
    for case in cases:
        t0 = time.process_time()
        intent = parse_intent(case["message"], history=case.get("history", []), catalog=catalog)
        slowest_ms = max(slowest_ms, (time.process_time() - t0) * 1000)
        extra = [f for f in ("excluded_gpu_types", "excluded_models") if f in case["expected"]]
        for field in (*FIELDS, *extra):
            got, want = _actual(intent, field), _expected(case, field)
            if field == "excluded_gpu_types":  # "no H100s" rules out the variants this catalog has
                want = [g for g in want if any(g == x.id for x in catalog.gpus)]
            row = tally.setdefault(field, [0, 0])
            row[1] += 1
            if got == want:
                row[0] += 1
            else:
                misses.append(f"{case['id']} {field}: got {got!r}, expected {want!r}")
    return tally, misses, slowest_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", action="store_true", help="use the knowledge base's catalog")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.kb:
        from bot.cli.common import load_catalog_cached  # type: ignore[attr-defined]

        catalog = load_catalog_cached()
    else:
        from tests.planner.catalog_fixture import fixture_catalog

        catalog = fixture_catalog()
    cases = load_cases()
    score(cases[:3], catalog)  # warm up: the first call compiles the regular expressions
    tally, misses, slowest_ms = score(cases, catalog)
    print(f"{len(cases)} cases ({sum(1 for c in cases if c.get('history'))} multi-turn)")
    for field, (ok, total) in tally.items():
        print(f"  {field:22s} {ok:3d}/{total:<3d} {ok / total:6.1%}")
    core = [tally[f] for f in FIELDS]
    print(f"  {'overall (core fields)':22s} {sum(a for a, _ in core) / sum(b for _, b in core):6.1%}")
    print(f"slowest extraction: {slowest_ms:.2f} ms CPU (target < 5 ms)")
    if args.show_misses:
        print("\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
