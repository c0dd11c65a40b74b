"""The screening bound of many fitted combinations at once, under one SLO and workload.

    bounds_under(fits, workload=..., slo=...) -> [Bound, ...]   (same as [bound_under(f, ...) for f in fits])

`planner.screen.bound_under` costs a few microseconds a combination; a catalog-wide screen has
thousands, and a what-if on the SLO redoes them all. Here the step-time terms of every fit become
numpy arrays and the rate formulas of `screen._rate` run once over all of them, operation for
operation in the same order, so the figures are the same floats. Combinations whose rate comes out
0 (the SLO fails even for a lone request) are re-done one by one for their reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from planner.perf_types import Workload
from planner.screen import OPTIMISM, Bound, Fit, Z, bound_under
from planner.types import SloTargets


@dataclass(frozen=True)
class _Terms:
    """The step-time terms of many fits, one array per term."""

    base_ms: np.ndarray
    compute_ms_per_token: np.ndarray
    attn_ms_per_pair: np.ndarray
    kv_read_ms_per_token: np.ndarray
    max_num_seqs: np.ndarray
    kv_cache_tokens: np.ndarray

    def prefill_ms(self, input_tokens: int, prefix_tokens: int) -> np.ndarray:
        fresh = input_tokens - prefix_tokens
        out: np.ndarray = (
            self.base_ms
            + fresh * self.compute_ms_per_token
            + fresh * input_tokens / 2 * self.attn_ms_per_pair
        )
        return out

    def per_seq_ms(self, ctx: float) -> np.ndarray:
        out: np.ndarray = (
            ctx * self.kv_read_ms_per_token + self.compute_ms_per_token + ctx * self.attn_ms_per_pair
        )
        return out


def bounds_under(fits: Sequence[Fit], *, workload: Workload, slo: SloTargets) -> list[Bound]:
    """`screen.bound_under` of each fit (see the module docstring)."""
    live = [f for f in fits if f.fits]
    if not live:
        return [bound_under(f, workload=workload, slo=slo) for f in fits]
    rows = [
        (
            f.base_ms,
            f.compute_ms_per_token,
            f.attn_ms_per_pair,
            f.kv_read_ms_per_token,
            f.max_num_seqs,
            f.kv_cache_tokens,
        )
        for f in live
    ]
    t = _Terms(*np.array(rows, dtype=float).T)
    w = workload
    upper = _rates(t, slo, w.input_tokens, w.output_tokens, w.prefix_tokens, overhead_ms=np.zeros(len(live)))
    z = Z.get(slo.percentile, 1.645)
    likely = _rates(
        t,
        slo,
        round(w.input_tokens + z * w.input_tokens_std),
        round(w.output_tokens + z * w.output_tokens_std),
        w.prefix_tokens,
        overhead_ms=np.array([f.request_overhead_ms for f in live]),
        queueing=True,
    )
    good = (upper.ok & (upper.rate > 0)).tolist()
    columns = zip(
        good,
        upper.rate.tolist(),
        np.where(likely.ok, likely.rate, 0.0).tolist(),
        upper.ttft_ms.tolist(),  # with no overhead: the lone prefill, the TTFT floor
        upper.step_lone_ms.tolist(),  # the TPOT floor
        strict=True,
    )
    fitted = iter(
        [
            Bound(True, f.kv_cache_tokens, floor_ttft, floor_tpot, OPTIMISM * rate, "", likely_rps)
            if ok
            else bound_under(f, workload=workload, slo=slo)  # for the reason
            for f, (ok, rate, likely_rps, floor_ttft, floor_tpot) in zip(live, columns, strict=True)
        ]
    )
    return [next(fitted) if f.fits else bound_under(f, workload=workload, slo=slo) for f in fits]


@dataclass(frozen=True)
class _Rates:
    rate: np.ndarray
    ok: np.ndarray  # a lone request holds the SLO
    ttft_ms: np.ndarray  # a lone request's
    step_lone_ms: np.ndarray


def _rates(
    c: _Terms,
    slo: SloTargets,
    input_tokens: int,
    output_tokens: int,
    prefix_tokens: int,
    *,
    overhead_ms: np.ndarray,
    queueing: bool = False,
) -> _Rates:
    """`screen._rate` over arrays."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ctx = input_tokens + output_tokens / 2
        prefill = c.prefill_ms(input_tokens, prefix_tokens)
        ttft = overhead_ms + prefill
        per_seq = c.per_seq_ms(ctx)
        step_lone = c.base_ms + 1 * per_seq
        e2e_lone = ttft + (output_tokens - 1) * step_lone
        ok = ~(step_lone > slo.itl_ms) & ~(ttft > slo.ttft_ms) & ~(e2e_lone > slo.e2e_ms)
        step_max = np.minimum(slo.itl_ms, (slo.e2e_ms - ttft) / max(output_tokens - 1, 1))
        batch = np.minimum(
            np.minimum((step_max - c.base_ms) / per_seq, c.max_num_seqs),
            c.kv_cache_tokens / (input_tokens + output_tokens),
        )
        step = c.base_ms + batch * per_seq
        fresh = input_tokens - prefix_tokens
        if not queueing:
            compute_rate = 1000.0 / ((fresh + output_tokens) * c.compute_ms_per_token)
            rate = np.minimum(1000.0 * batch / (output_tokens * step), compute_rate)
        else:
            k = slo.ttft_ms / ttft - 1.0
            rate = 1000.0 / (output_tokens * step / batch + (prefill - c.base_ms))
            rate = rate * k / (3.0 + k)
        return _Rates(rate, ok, ttft, step_lone)
