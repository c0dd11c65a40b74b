"""Words for people: one-breath explanations of options, and what to relax when nothing fits.

Pure string building from planner values; the Slack blocks and the CLI print these as they are.
"""

from __future__ import annotations

import math

from planner.capacity import HEADROOM, Sized
from planner.spec import DeploymentSpec

VIEW_WORDS = {
    "balanced": "best balance for your priorities",
    "cheapest": "cheapest that meets the SLO",
    "fastest": "fastest",
    "most_accurate": "most accurate",
    "simplest": "fewest GPUs",
}


def short_model(model_id: str) -> str:
    """'meta-llama/Llama-3.1-8B-Instruct' -> 'Llama-3.1-8B-Instruct'."""
    return model_id.split("/")[-1]


def rate(rps: float) -> str:
    """Requests per second with two significant digits below 10 ('0.042', '3.8', '375')."""
    return f"{rps:,.0f}" if rps >= 100 else f"{rps:.1f}" if rps >= 10 else f"{rps:.2g}"


def money(usd: float) -> str:
    return f"${usd:,.0f}" if math.isfinite(usd) else "no price"


def describe_shape(s: Sized) -> str:
    """'Llama-3.1-8B-Instruct on 2 × H100-SXM (2 replicas × TP 1, fp8)'."""
    replicas = f"{s.replicas} replica{'s' if s.replicas != 1 else ''}"
    shape = f"({replicas} × TP {s.tp}, {s.precision.value})"
    return f"{short_model(s.model.id)} on {s.gpu_count} × {s.gpu.id} {shape}"


def explain_option(
    s: Sized,
    spec: DeploymentSpec,
    *,
    ttft_ms: float,
    tpot_ms: float,
    best_in: list[str],
    pareto: bool,
) -> str:
    """One sentence: shape, cost, predicted latency against the SLO, headroom, and why it is listed."""
    pct = spec.slo.percentile.value
    why = ", ".join(VIEW_WORDS[v] for v in best_in) or (
        "on the cost/latency/quality frontier" if pareto else ""
    )
    head = (
        f"{describe_shape(s)}: {money(s.cost_per_month_usd)}/month; "
        f"{pct} TTFT {ttft_ms:,.0f} ms (target {spec.slo.ttft_ms:,.0f}), TPOT {tpot_ms:.0f} ms "
        f"(target {spec.slo.tpot_ms:g}); holds {rate(s.max_qps)} req/s "
        f"vs {rate(spec.traffic.peak_qps)} planned peak"
    )
    return f"{head}. {why[0].upper()}{why[1:]}." if why else f"{head}."


def within_error_note(spec: DeploymentSpec, close: list[tuple[str, float]]) -> str:
    """'Its p95 TTFT is within the model's typical error (±30%) of the target: ...' ('' when none)."""
    if not close:
        return ""
    pct = spec.slo.percentile.value  # the options quote TTFT at the SLO's percentile, TPOT as a mean
    what = " and ".join(f"{pct} {metric}" if metric == "TTFT" else metric for metric, _ in close)
    errs = ", ".join(f"±{err:.0f}% for {metric}" for metric, err in close)
    return (
        f"Its {what} {'is' if len(close) == 1 else 'are'} within the model's typical error ({errs}) of the "
        "target: confirm under real load once deployed (predeploy posts observed against predicted)."
    )


def headroom_note() -> str:
    return (
        f"Each replica is planned at {1 - HEADROOM:.0%} of the highest rate at which it still holds the SLO."
    )


LOW_LOAD_MISS = "even at low load"  # how `planner.search.explain_zero_rate` starts its reasons


def relax_advice(spec: DeploymentSpec, misses: list[Sized]) -> tuple[Sized | None, str]:
    """The closest miss and what to relax so that it would work."""
    slo = spec.slo
    limited = [m for m in misses if m.replicas > 0 and math.isfinite(m.cost_per_month_usd)]
    if limited:
        best = min(limited, key=lambda m: m.cost_per_month_usd)
        if spec.max_gpus and best.gpu_count > spec.max_gpus:
            return best, f"raise max_gpus to {best.gpu_count} ({describe_shape(best)})"
        if spec.budget_usd_month and best.cost_per_month_usd > spec.budget_usd_month:
            return (
                best,
                f"raise the budget to {money(best.cost_per_month_usd)}/month ({describe_shape(best)})",
            )
    slo_misses = [m for m in misses if m.replicas == 0 and m.floor_tpot_ms > 0]
    if not slo_misses:
        return None, "no model fits the GPUs allowed; allow larger GPUs, more GPUs per replica or int4/fp8"
    # prefer misses predicted at low load (overheads and tails in) over screening floors, which leave
    # the request overhead out and so would advise a target that still fails
    predicted = [m for m in slo_misses if m.reason.startswith(LOW_LOAD_MISS)]
    best = min(
        predicted or slo_misses,
        key=lambda m: max(m.floor_ttft_ms / slo.ttft_ms, m.floor_tpot_ms / slo.tpot_ms),
    )
    asks = []
    if best.floor_ttft_ms * 2 > slo.ttft_ms:
        asks.append(f"TTFT to {_round_up(best.floor_ttft_ms * 2)} ms")
    if best.floor_tpot_ms * 1.3 > slo.tpot_ms:
        asks.append(f"TPOT to {_round_up(best.floor_tpot_ms * 1.3)} ms")
    if not asks:
        lower = {"p99": "p95", "p95": "p90", "p90": "p50"}.get(slo.percentile.value)
        asks.append(
            f"the percentile to {lower} or e2e to {_round_up(slo.e2e_ms * 1.5)} ms"
            if lower
            else f"e2e to {_round_up(slo.e2e_ms * 1.5)} ms"
        )
    shape = f"{short_model(best.model.id)} on TP {best.tp} × {best.gpu.id} at {best.precision.value}"
    return best, f"relax {' and '.join(asks)} (closest: {shape}; {best.reason})"


def _round_up(ms: float) -> int:
    step = 10 if ms < 200 else 50 if ms < 2000 else 500
    return int(math.ceil(ms / step) * step)
