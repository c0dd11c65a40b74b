"""Fit the performance model's efficiency factors to benchmark rows, and measure held-out error.

The fit minimises squared log errors (every metric counts in relative terms) with a
Levenberg-Marquardt loop on a few bounded parameters (`planner.perf_params.BOUNDS`), plus a weak pull
towards the PERF_FACTS priors so that a parameter no row informs (a GPU family nobody benchmarked)
stays at its physical prior instead of drifting. Pure numpy; the rows are evaluated all at once
with the same step-time and serving formulas the predictions use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.calibration_cases import METRICS, Case
from planner.memory import memory_plan
from planner.perf_model import efficiency, expert_layers, step_coefs_from
from planner.perf_params import BOUNDS, ENGINES, FAMILIES, LINKS, PerfParams
from planner.perf_setup import engine_limits, run_limits
from planner.serving import CLOSED_LOOP, Load, mean_value
from planner.types import Engine

PRIOR_WEIGHT = 0.05  # pull (in log-odds units) towards the prior per parameter


@dataclass(frozen=True)
class CaseArrays:
    """Cases stacked column-wise; `hw` has one array per HardwareCosts field."""

    cases: tuple[Case, ...]
    hw: Any
    family: np.ndarray
    engine: np.ndarray
    link: np.ndarray
    load: Load
    max_num_seqs: np.ndarray
    max_num_batched_tokens: np.ndarray
    kv_cache_tokens: np.ndarray
    replicas: np.ndarray
    state_tokens: np.ndarray  # a hybrid's fixed per-sequence state, in KV tokens' worth (0 otherwise)


def stack(cases: list[Case] | tuple[Case, ...], params: PerfParams) -> CaseArrays:
    """Stack cases into arrays (the parts that do not depend on the fitted parameters)."""
    cases = tuple(cases)
    fields = [f.name for f in dataclasses.fields(cases[0].hw)] if cases else []
    numeric = {
        n: np.array([getattr(c.hw, n) for c in cases], dtype=float)
        for n in fields
        if n not in ("family", "engine", "link")
    }
    hw = type("HwArrays", (), numeric)
    seqs, budget, kv, state = [], [], [], []
    for c in cases:
        plan = memory_plan(
            c.model,
            c.gpu,
            tp=c.tp,
            precision=c.precision,
            max_model_len=int(c.input_tokens + c.output_tokens),
            gpu_memory_utilization=params.kv_memory_fraction.get(c.engine, 0.9),
            params=params,
            engine=Engine(c.engine),
        )
        kv.append(max(plan.kv_cache_tokens, 1))
        state.append(plan.state_tokens_per_seq)
        s, b = run_limits(
            Engine(c.engine),
            c.gpu,
            params,
            mode=c.mode,
            kv_cache_tokens=plan.kv_cache_tokens,
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
        )
        per_replica = c.load / c.replicas
        seqs.append(max(s, per_replica) if c.mode == CLOSED_LOOP else s)
        budget.append(b)
    replicas = np.array([c.replicas for c in cases], dtype=float)
    load = Load(
        input_tokens=np.array([c.input_tokens for c in cases]),
        output_tokens=np.array([c.output_tokens for c in cases]),
        prefix_tokens=np.zeros(len(cases)),
        mode=np.array([c.mode for c in cases]),
        value=np.array([c.load for c in cases]) / np.maximum(replicas, 1.0),
    )
    return CaseArrays(
        cases=cases,
        hw=hw,
        family=np.array([c.family for c in cases]),
        engine=np.array([c.engine for c in cases]),
        link=np.array([c.hw.link for c in cases]),
        load=load,
        max_num_seqs=np.array(seqs, dtype=float),
        max_num_batched_tokens=np.array(budget, dtype=float),
        kv_cache_tokens=np.array(kv, dtype=float),
        replicas=replicas,
        state_tokens=np.array(state, dtype=float),
    )


def _lookup(keys: np.ndarray, table: dict[str, float], default: float) -> np.ndarray:
    return np.array([table.get(str(k), default) for k in keys], dtype=float)


def predict_cases(arrays: CaseArrays, params: PerfParams) -> dict[str, np.ndarray]:
    """Predicted value of every metric for every case (NaN-free; unmeasured metrics included)."""
    eff = efficiency(params, family=arrays.family, engine=arrays.engine, link=arrays.link, lookup=_lookup)
    coefs = step_coefs_from(arrays.hw, eff)
    limits = engine_limits(
        params,
        lambda table, default: _lookup(arrays.engine, table, default),
        kv_tokens=arrays.kv_cache_tokens,
        max_num_seqs=arrays.max_num_seqs,
        max_num_batched_tokens=arrays.max_num_batched_tokens,
        moe_expert_layers=expert_layers(arrays.hw),
        state_tokens=arrays.state_tokens,
    )
    r = mean_value(coefs, arrays.load, limits)
    return {
        "max_throughput_tok_s": r.output_tokens_per_s * arrays.replicas,
        "ttft_ms": r.ttft_ms,
        "itl_tpot_ms": r.tpot_ms,
        "e2e_ms": r.e2e_ms,
    }


def _targets(arrays: CaseArrays) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for metric in METRICS:
        idx = np.array(
            [i for i, c in enumerate(arrays.cases) if metric in arrays.cases[i].measured], dtype=int
        )
        if idx.size:
            vals = np.array([arrays.cases[i].measured[metric] for i in idx], dtype=float)
            out.append((metric, idx, vals))
    return out


def _free(arrays: CaseArrays) -> list[tuple[str, str]]:
    """Parameters some case informs: families, engines and links present in the data."""
    fams, engs = set(arrays.family.tolist()), set(arrays.engine.tolist())
    links = {str(k) for k, tp in zip(arrays.link, arrays.hw.allreduces_per_step, strict=True) if tp > 0}
    free = [("mbu", f) for f in FAMILIES if f in fams] + [("mfu", f) for f in FAMILIES if f in fams]
    groups = (
        "step_overhead_ms",
        "request_overhead_ms",
        "closed_loop_wave",
        "closed_loop_lockstep",
        "first_token_steps",
        "closed_loop_overhead_ms",
        "moe_request_overhead_ms",
    )
    free += [(g, e) for g in groups for e in ENGINES if e in engs]
    free += [("engine_speed", e) for e in ENGINES if e in engs and e != "tensorrt-llm"]
    free += [(g, k) for g in ("allreduce_latency_us", "allreduce_bw_eff") for k in LINKS if k in links]
    free += [(g, "") for g in SCALARS]
    return free


SCALARS = (
    "tp_loss",
    "large_step_gemm_speed",
    "kv_read_eff",
    "moe_layer_overhead_us",
    "moe_compute_eff",
    "low_bit_compute_eff",
    "low_bit_prefill_eff",
    "fp4_eff",
    "w4a16_read_eff",
    "expert_spread",
    "eager_layer_us",
)


def _value(params: PerfParams, group: str, key: str) -> float:
    table = getattr(params, group)
    return float(table[key]) if key else float(table)


def _to_z(value: float, group: str) -> float:
    lo, hi = BOUNDS[group]
    x = min(max((value - lo) / (hi - lo), 1e-4), 1 - 1e-4)
    return float(np.log(x / (1 - x)))


def _from_z(z: float, group: str) -> float:
    lo, hi = BOUNDS[group]
    return float(lo + (hi - lo) / (1.0 + np.exp(-z)))


def _apply(params: PerfParams, free: list[tuple[str, str]], z: np.ndarray) -> PerfParams:
    changes: dict[str, Any] = {}
    for (group, key), zi in zip(free, z, strict=True):
        if key:
            changes.setdefault(group, dict(getattr(params, group)))[key] = _from_z(float(zi), group)
        else:
            changes[group] = _from_z(float(zi), group)
    return dataclasses.replace(params, **changes)


def _residuals(
    arrays: CaseArrays, targets: list[tuple[str, np.ndarray, np.ndarray]], params: PerfParams
) -> np.ndarray:
    pred = predict_cases(arrays, params)
    parts = []
    for metric, idx, vals in targets:
        p = np.clip(pred[metric][idx], 1e-6, 1e9)
        res = np.log(p / vals)
        # Huber-like robustness: outliers (mislabelled or odd rows) count linearly, not squared
        robust = np.sign(res) * np.sqrt(np.where(np.abs(res) < 0.5, res**2, np.abs(res) - 0.25))
        parts.append(robust / np.sqrt(idx.size))  # every metric weighs the same, however many rows
    return np.concatenate(parts) if parts else np.zeros(0)


def fit(arrays: CaseArrays, prior: PerfParams, *, iterations: int = 12) -> PerfParams:
    """Fit the free parameters to the cases; returns the prior when there is nothing to fit."""
    targets, free = _targets(arrays), _free(arrays)
    if not targets or not free:
        return prior
    z0 = np.array([_to_z(_value(prior, g, k), g) for g, k in free])
    z, damping = z0.copy(), 1e-2
    scale = 1.0 / np.sqrt(len(targets))

    def cost_vec(zv: np.ndarray) -> np.ndarray:
        res = _residuals(arrays, targets, _apply(prior, free, zv)) * scale
        return np.concatenate([res, PRIOR_WEIGHT * (zv - z0)])

    r = cost_vec(z)
    for _ in range(iterations):
        jac = np.empty((r.size, z.size))
        for j in range(z.size):
            step = np.zeros_like(z)
            step[j] = 1e-3
            jac[:, j] = (cost_vec(z + step) - r) / 1e-3
        jtj, g = jac.T @ jac, jac.T @ r
        while damping < 1e6:
            cand = z - np.linalg.solve(jtj + damping * np.diag(np.diag(jtj) + 1e-9), g)
            rc = cost_vec(cand)
            if rc @ rc < r @ r:
                z, r, damping = cand, rc, damping / 3
                break
            damping *= 4
        else:
            break
    return _apply(prior, free, z)


def abs_pct_errors(
    arrays: CaseArrays, params: PerfParams, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Absolute percentage error per metric over the (masked) cases that measured it."""
    return {m: errs for m, (_, errs) in indexed_errors(arrays, params, mask).items()}


def indexed_errors(
    arrays: CaseArrays, params: PerfParams, mask: np.ndarray | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric: (case indices, absolute percentage errors) over the (masked) cases."""
    pred = predict_cases(arrays, params)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for metric, idx, _ in _targets(arrays):
        keep = idx if mask is None else idx[mask[idx]]
        if keep.size:
            measured = np.array([arrays.cases[i].measured[metric] for i in keep])
            out[metric] = (keep, np.abs(pred[metric][keep] / measured - 1.0) * 100.0)
    return out


def summary(errors: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Rows, median and p90 absolute % error per metric."""
    return {
        m: {
            "rows": int(e.size),
            "median_pct": round(float(np.median(e)), 1),
            "p90_pct": round(float(np.percentile(e, 90)), 1),
        }
        for m, e in errors.items()
    }


def subset(arrays: CaseArrays, mask: np.ndarray, params: PerfParams) -> CaseArrays:
    """The cases where mask is true, restacked."""
    return stack([c for c, keep in zip(arrays.cases, mask, strict=True) if keep], params)
