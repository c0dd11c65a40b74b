"""How fast planning is: the whole plan, a what-if re-plan, and `predeploy plan` end to end.

    .venv/bin/python benchmarks/bench_plan.py [--fixture] [--priors] [--repeat N] [--no-cli]

Uses the knowledge base's catalog (45 models × 16 GPUs; DATABASE_URL or the default SQLite file)
unless --fixture, and the shipped calibration (`kb/data/calibration.json`, what `predeploy plan` and
the bot use) unless --priors (the PERF_FACTS priors, which earlier sessions timed). Targets (issue 4):
plan < 200 ms, what-if re-plan < 100 ms, CLI < 2 s. Wall and CPU times are both shown: on a shared
machine the CPU time is the steadier figure (both include Python's garbage collector: a full pass
over the catalog's objects takes tens of ms here and lands in some runs, which is why the median is
shown). Each what-if is also checked against a plan of the same spec without a cache: the caches must
change nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = (
    "support chatbot for 1000 users, latency matters",
    "code completion for 5000 developers",
    "summarize 100-page reports for 200 analysts, accuracy matters",
    "RAG over our policies for 3000 staff, cheap",
)
WHAT_IFS = ("users=3000", "gpu=A100-80GB", "budget=20000", "ttft_ms=300")


def _timed(fn: Any, repeat: int) -> tuple[float, float, Any]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus), out


def _catalog(fixture: bool) -> Any:
    sys.path.insert(0, str(ROOT))
    if fixture:
        from tests.planner.catalog_fixture import fixture_catalog

        return fixture_catalog()
    from bot.cli.common import load_catalog_cached

    return load_catalog_cached()


def _full_search(spec: Any, catalog: Any, params: Any) -> float:
    """Cheapest option by sizing screened combinations exactly, cheapest bound first, until the bound
    reaches the best found (exact, given that the bound never under-states a rate)."""
    from planner.capacity import screen, size_exact
    from planner.recommend import candidate_models
    from planner.search import Scored, cheapest_first, verify
    from planner.types import Engine

    best = float("inf")
    feasible = [
        s for s in screen(spec, catalog, candidate_models(spec, catalog)[0], params=params) if s.feasible
    ]
    for s in cheapest_first(feasible):
        if s.cost_per_month_usd >= best:
            break
        sized = size_exact(spec, s, params=params)
        v = verify(spec, sized, params=params, engine=Engine.VLLM, precise=False) if sized.feasible else None
        best = min(best, v.sized.cost_per_month_usd) if isinstance(v, Scored) else best
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixture", action="store_true", help="use the small test catalog")
    parser.add_argument("--priors", action="store_true", help="plan with the priors, not the calibration")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    parser.add_argument(
        "--search-quality",
        action="store_true",
        help="compare the cheapest option found with a full branch-and-bound (slow)",
    )
    args = parser.parse_args()
    from kb.calibration import load_params
    from planner.capacity import screen
    from planner.intent import extract
    from planner.perf import default_params
    from planner.pipeline import plan
    from planner.recommend import candidate_models
    from planner.search import RateCache
    from planner.whatif import apply_changes, parse_changes

    catalog, params = _catalog(args.fixture), default_params() if args.priors else load_params()
    print(
        f"catalog: {len(catalog.models)} models × {len(catalog.gpus)} GPUs; "
        f"{'priors' if args.priors else 'calibrated parameters'}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'request':<62} {'combos':>6} {'plan ms (wall/cpu)':>20} {'options':>7}")
    for text in REQUESTS:
        spec = extract(text, catalog=catalog)
        combos = len(screen(spec, catalog, candidate_models(spec, catalog)[0], params=params))
        wall, cpu, result = _timed(lambda spec=spec: plan(spec, catalog, params=params), args.repeat)
        print(f"{text:<62} {combos:>6} {wall:>11.0f} / {cpu:<6.0f} {len(result.options):>7}")
    if args.search_quality:
        print("\ncheapest option found vs a full branch-and-bound over every screened combination:")
        for text in REQUESTS:
            spec = extract(text, catalog=catalog)
            found = min(
                (o.cost_per_month_usd for o in plan(spec, catalog, params=params, top_k=50).options),
                default=float("inf"),
            )
            print(f"  {text:<62} ${found:>9,.0f} vs ${_full_search(spec, catalog, params):>9,.0f}")
    spec = extract(REQUESTS[0], catalog=catalog)
    print(f"\nwhat-if re-plans of {REQUESTS[0]!r} (rates cached from the base plan, as compare() does):")
    for change in WHAT_IFS:
        variant = apply_changes(spec, parse_changes(change), catalog)

        def replan(variant: Any = variant) -> tuple[float, float, Any]:
            cache: RateCache = {}
            plan(spec, catalog, params=params, cache=cache)  # the base, outside the timing below
            w, c = time.perf_counter(), time.process_time()
            result = plan(variant, catalog, params=params, cache=cache)
            return (time.perf_counter() - w) * 1000, (time.process_time() - c) * 1000, result

        runs = [replan() for _ in range(args.repeat)]
        same = runs[-1][2] == plan(variant, catalog, params=params)  # the caches change nothing
        print(
            f"  {change:<16} {statistics.median(r[0] for r in runs):>6.0f} ms wall / "
            f"{statistics.median(r[1] for r in runs):.0f} ms cpu"
            f"{'' if same else '   DIFFERS from the plan without a cache'}"
        )
    if not args.no_cli:
        cli = [str(ROOT / ".venv" / "bin" / "predeploy"), "plan", "--no-llm", "--json", REQUESTS[0]]
        subprocess.run(cli, capture_output=True, check=True)  # warm the database file and OS caches
        times = []
        for _ in range(3):
            t = time.perf_counter()
            subprocess.run(cli, capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        print(f"\npredeploy plan end to end (Python start-up included): {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
