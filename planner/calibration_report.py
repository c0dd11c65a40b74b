"""Calibrate on every comparable row, and validate with leave-one-source-out / leave-one-GPU-out refits."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from planner.calibration import CaseArrays, abs_pct_errors, fit, indexed_errors, stack, subset, summary
from planner.calibration_cases import METRICS, Case, MemoryCase
from planner.memory import memory_plan
from planner.perf_params import PerfParams, as_benchmarked
from planner.types import GpuSpec


def data_version(cases: list[Case] | tuple[Case, ...]) -> str:
    """sha256 of the rows a fit used (ids and measured values), order-independent."""
    items = sorted((c.row_id, sorted(c.measured.items())) for c in cases)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


def calibrate(cases: list[Case], prior: PerfParams, *, iterations: int = 10) -> PerfParams:
    """Fit on all cases; the result carries the row counts, error figures and data version."""
    arrays = stack(cases, as_benchmarked(prior))
    fitted = fit(arrays, prior, iterations=iterations)
    rows = Counter(f"{c.family}/{c.engine}" for c in cases)
    info = {
        "data_version": data_version(cases),
        "rows": len(cases),
        "rows_by_family_engine": dict(sorted(rows.items())),
        "rows_by_source": dict(Counter(c.source for c in cases)),
        "in_sample_error": summary(abs_pct_errors(arrays, fitted)),
    }
    return replace(fitted, fit_info=info)


def _held_out(arrays: CaseArrays, prior: PerfParams, keys: np.ndarray, iterations: int) -> dict[str, Any]:
    idx: dict[str, list[np.ndarray]] = {}
    errors: dict[str, list[np.ndarray]] = {}
    for key in sorted(set(keys.tolist())):
        test = keys == key
        train = subset(arrays, ~test, as_benchmarked(prior))
        params = fit(train, prior, iterations=iterations) if train.cases else prior
        for metric, (rows, errs) in indexed_errors(arrays, params, mask=test).items():
            idx.setdefault(metric, []).append(rows)
            errors.setdefault(metric, []).append(errs)
    merged = {m: (np.concatenate(idx[m]), np.concatenate(v)) for m, v in errors.items()}
    out: dict[str, Any] = summary({m: e for m, (_, e) in merged.items()})
    sources = np.array([c.source for c in arrays.cases])
    out["by_source"] = {
        src: summary({m: e[sources[i] == src] for m, (i, e) in merged.items() if (sources[i] == src).any()})
        for src in sorted(set(sources.tolist()))
    }
    return out


def repeatability(cases: list[Case] | tuple[Case, ...]) -> dict[str, Any]:
    """How far rows that repeat one configuration (model, GPU, engine, precision, TP, replicas,
    lengths, load) differ from each other: |a / b - 1| over pairs of distinct measurements, per
    metric. No model can agree with two rows better than they agree with each other, so this is
    the data's own floor under the held-out errors."""
    groups: dict[tuple[Any, ...], list[Case]] = {}
    for c in cases:
        key = (c.model_id, c.gpu_id, c.engine, c.precision, c.tp, c.replicas)
        groups.setdefault(key + (c.input_tokens, c.output_tokens, c.mode, c.load), []).append(c)
    out: dict[str, Any] = {}
    for metric in METRICS:
        diffs = []
        for rows in groups.values():
            values = [r.measured[metric] for r in rows if metric in r.measured]
            for i, a in enumerate(values):
                for b in values[i + 1 :]:
                    if abs(a / b - 1.0) > 1e-3:  # the same measurement listed twice is not a repeat
                        diffs.append(abs(max(a, b) / min(a, b) - 1.0) * 100.0)
        if diffs:
            arr = np.array(diffs)
            out[metric] = {
                "pairs": int(arr.size),
                "median_pct": round(float(np.median(arr)), 1),
                "p90_pct": round(float(np.percentile(arr, 90)), 1),
            }
    return out


def validate(cases: list[Case], prior: PerfParams, *, iterations: int = 3) -> dict[str, Any]:
    """Held-out error per metric: leave-one-source-out and leave-one-GPU-out (also split by source)."""
    arrays = stack(cases, as_benchmarked(prior))
    return {
        "leave_one_source_out": _held_out(arrays, prior, np.array([c.source for c in cases]), iterations),
        "leave_one_gpu_out": _held_out(arrays, prior, np.array([c.gpu_id for c in cases]), iterations),
        "rows": len(cases),
        "repeatability": repeatability(cases),
    }


SPLITS = ("leave_one_source_out", "leave_one_gpu_out")


def held_out_error(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metric, the worse of `validate`'s two held-out splits (median and p90 absolute % error):
    the error a prediction for a configuration nobody benchmarked should be expected to carry."""
    out: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        for metric, s in report.get(split, {}).items():
            if metric == "by_source" or not isinstance(s, dict) or "median_pct" not in s:
                continue
            seen = out.get(metric)
            if seen is None or s["median_pct"] > seen["median_pct"]:
                out[metric] = {**s, "split": split}
            if s["p90_pct"] > out[metric]["p90_pct"]:
                out[metric] = {**out[metric], "p90_pct": s["p90_pct"]}
    return dict(sorted(out.items()))


def memory_errors(cases: list[MemoryCase], gpu: GpuSpec, params: PerfParams) -> dict[str, Any]:
    """KV-cache tokens predicted vs measured on the vLLM start-ups (absolute % error)."""
    errs = []
    for m in cases:
        plan = memory_plan(
            m.model,
            gpu,
            tp=m.tp,
            precision=m.precision,
            max_model_len=m.max_model_len,
            gpu_memory_utilization=m.gpu_memory_utilization,
            params=params,
            kv_cache_dtype_bytes=m.kv_dtype_bytes,
        )
        errs.append(abs(plan.kv_cache_tokens / m.measured_kv_tokens - 1.0) * 100.0)
    if not errs:
        return {"rows": 0}
    arr = np.array(errs)
    return {
        "rows": int(arr.size),
        "median_pct": round(float(np.median(arr)), 2),
        "p90_pct": round(float(np.percentile(arr, 90)), 2),
    }
