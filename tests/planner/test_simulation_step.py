"""The DES's plain-float step time is step_ms itself, to the last bits, wherever it is used."""

from __future__ import annotations

import numpy as np
import pytest

from planner.perf import default_params
from planner.perf_model import StepCoefs, hardware_costs, step_coefs, step_ms
from planner.simulation import scalar_step
from planner.types import Engine, GpuSpec, ModelSpec, Precision
from tests.planner.perf_specs import H100, L40S, LLAMA_8B, LLAMA_70B, MIXTRAL

P = default_params()


def _coefs(model: ModelSpec, gpu: GpuSpec, tp: int, precision: Precision = Precision.BF16) -> StepCoefs:
    hw = hardware_costs(model, gpu, tp=tp, precision=precision, engine=Engine.VLLM, params=P)
    return step_coefs(hw, P)


@pytest.mark.parametrize(
    ("model", "gpu", "tp", "precision"),
    [
        (LLAMA_8B, H100, 1, Precision.BF16),
        (LLAMA_70B, H100, 4, Precision.BF16),
        (LLAMA_70B, H100, 2, Precision.FP8),  # low-bit GEMMs: faster in large steps
        (LLAMA_8B, L40S, 2, Precision.BF16),
        (MIXTRAL, H100, 2, Precision.BF16),
    ],
)
def test_scalar_step_is_step_ms_on_random_steps(
    model: ModelSpec, gpu: GpuSpec, tp: int, precision: Precision
) -> None:
    coefs = _coefs(model, gpu, tp, precision)
    if precision == Precision.FP8:
        assert float(coefs.large_m_gain) > 0 and scalar_step(coefs).__name__ == "fast"
    fast = scalar_step(coefs)
    rng = np.random.default_rng(1)
    for _ in range(300):
        batched = float(rng.choice([1, 7, 255, 512, 513, 900, 8192]))
        kv = float(rng.uniform(0, 400_000))
        pairs = float(rng.uniform(0, 5e7))
        want = float(step_ms(coefs, batched_tokens=batched, kv_tokens=kv, token_pairs=pairs))
        assert fast(batched, kv, pairs) == pytest.approx(want, rel=1e-12), (batched, kv, pairs)


def test_moe_and_a_changed_formula_fall_back_to_step_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    moe = _coefs(MIXTRAL, H100, 2)
    assert float(moe.expert_fraction) > 0 and scalar_step(moe).__name__ == "exact"
    dense = _coefs(LLAMA_8B, H100, 1)
    assert scalar_step(dense).__name__ == "fast"

    def changed(coefs: StepCoefs, *, batched_tokens: float, kv_tokens: float, token_pairs: float) -> float:
        # a term the inlined copy does not know (say, a new cost of big steps in planner.perf_model)
        base = step_ms(coefs, batched_tokens=batched_tokens, kv_tokens=kv_tokens, token_pairs=token_pairs)
        return float(base) + (0.5 if batched_tokens > 4096 else 0.0)

    monkeypatch.setattr("planner.simulation.step_ms", changed)
    step = scalar_step(dense)
    assert step.__name__ == "exact"
    assert step(8192.0, 8192.0, 3e7) == pytest.approx(
        changed(dense, batched_tokens=8192.0, kv_tokens=8192.0, token_pairs=3e7), rel=1e-12
    )
