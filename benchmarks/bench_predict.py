"""Speed of the performance model: one prediction (means; with simulated tails) and the SLO search.

Run: .venv/bin/python benchmarks/bench_predict.py   (uses the knowledge base's catalog and calibration)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.cli.common import load_catalog_cached
from kb.calibration import load_params
from planner.perf import Arrival, Workload, max_rate_under_slo, predict
from planner.types import ArrivalKind, Engine, Precision, SloTargets


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(best, mean) wall time of fn in ms over `repeat` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return min(times), sum(times) / len(times)


def main() -> None:
    catalog, params = load_catalog_cached(), load_params()
    model, gpu = catalog.model("meta-llama/Llama-3.1-8B-Instruct"), catalog.gpu("H100")
    wl = Workload(512, 128, input_tokens_std=150, output_tokens_std=40)
    kw: dict[str, Any] = {
        "tp": 1,
        "precision": Precision.BF16,
        "engine": Engine.VLLM,
        "workload": wl,
        "params": params,
    }
    capacity = predict(
        model, gpu, arrival=Arrival(ArrivalKind.POISSON, rate_rps=1.0), percentiles=False, **kw
    )
    busy = Arrival(ArrivalKind.POISSON, rate_rps=0.85 * capacity.capacity_rps)  # the longest simulations
    cases: list[tuple[str, Callable[[], object], int]] = [
        (
            "predict, means only (poisson 8 req/s)",
            lambda: predict(
                model, gpu, arrival=Arrival(ArrivalKind.POISSON, rate_rps=8.0), percentiles=False, **kw
            ),
            200,
        ),
        (
            "predict, simulated tails (poisson 8 req/s)",
            lambda: predict(
                model, gpu, arrival=Arrival(ArrivalKind.POISSON, rate_rps=8.0), percentiles=True, **kw
            ),
            20,
        ),
        (
            f"predict, simulated tails (poisson {busy.rate_rps:.1f} req/s, 85% load)",
            lambda: predict(model, gpu, arrival=busy, percentiles=True, **kw),
            20,
        ),
        (
            "predict, simulated tails (closed loop 32)",
            lambda: predict(
                model, gpu, arrival=Arrival(ArrivalKind.CLOSED_LOOP, concurrency=32), percentiles=True, **kw
            ),
            20,
        ),
        (
            "max_rate_under_slo (p95 TTFT 500 ms, ITL 50 ms)",
            lambda: max_rate_under_slo(model, gpu, slo=SloTargets(500, 50, 15000), **kw),
            200,
        ),
    ]
    for name, fn, repeat in cases:
        best, mean = best_ms(fn, repeat)
        print(f"{name:58s} best {best:7.2f} ms   mean {mean:7.2f} ms")


if __name__ == "__main__":
    main()
