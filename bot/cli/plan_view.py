"""Plain-text views of specs, plans and comparisons for the terminal (pure: values in, lines out)."""

from __future__ import annotations

from planner.plan import Option, PlanResult
from planner.spec import DeploymentSpec
from planner.whatif import Comparison, Scenario

INFEASIBLE_SHOWN = 5


def _short(model_id: str) -> str:
    return model_id.split("/")[-1]


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def spec_lines(spec: DeploymentSpec) -> list[str]:
    """The spec in a few lines: use case, load, SLO, priorities, constraints, questions."""
    s, p, t = spec.slo, spec.priorities, spec.traffic
    lines = [
        f"use case:   {spec.use_case} ({spec.experience_class}, domain {spec.domain})",
        "users:      none waiting (a batch job: the rate is what counts)"
        if spec.experience_class == "batch"
        else f"users:      {spec.user_count:,}",
        f"traffic:    {t.derivation}",
        f"tokens:     {t.input_tokens_mean:,} in (±{t.input_tokens_std:,}), {t.output_tokens_mean:,} out "
        f"(±{t.output_tokens_std:,}), shared prefix {t.prefix_tokens:,}",
        f"SLO:        {s.percentile} TTFT ≤ {s.ttft_ms:,.0f} ms, TPOT ≤ {s.tpot_ms:g} ms, "
        f"e2e ≤ {s.e2e_ms:,.0f} ms",
        f"priorities: latency {p.latency}, cost {p.cost}, accuracy {p.accuracy}",
    ]
    constraints = {
        "GPUs": ", ".join(spec.preferred_gpu_types),
        "not GPUs": ", ".join(spec.excluded_gpu_types),
        "models": ", ".join(_short(m) for m in spec.preferred_models),
        "not models": ", ".join(_short(m) for m in spec.excluded_models),
        "max GPUs": spec.max_gpus,
        "budget": f"${spec.budget_usd_month:,.0f}/month" if spec.budget_usd_month else None,
        "precision": spec.precision,
        "context": f"{spec.context_length_tokens:,} tokens" if spec.context_length_tokens else None,
        "provider": spec.provider,
        "licence": spec.license,
        "approved only": "yes" if spec.approved_only else None,
    }
    shown = [f"{k} {v}" for k, v in constraints.items() if v]
    if shown:
        lines.append(f"constraints: {'; '.join(shown)}")
    lines += [f"question:   {q}" for q in spec.questions]
    return lines


def option_table(options: list[Option]) -> list[str]:
    """One row per option."""
    pct = options[0].predicted.percentile if options else "p95"
    head = (
        f"{'#':>2}  {'model':<30} {'GPUs':<14} {'TP':>2} {'rep':>3} {'prec':<5} {'$/month':>10} "
        f"{pct + ' TTFT':>9} {'TPOT':>5} {'e2e':>7} {'max r/s':>8} {'score':>5}  pareto"
    )
    rows = [head]
    for o in options:
        rows.append(
            f"{o.rank:>2}  {_short(o.model_id)[:30]:<30} {f'{o.gpu_count} × {o.gpu_type}'[:14]:<14} "
            f"{o.tensor_parallel:>2} {o.replicas:>3} {o.precision:<5} {o.cost_per_month_usd:>10,.0f} "
            f"{_ms(o.predicted.ttft_ms):>9} {_ms(o.predicted.tpot_ms):>5} {_ms(o.predicted.e2e_ms):>7} "
            f"{o.predicted.max_qps:>8,.1f} {o.score:>5.2f}  {'yes' if o.pareto else ''}"
        )
    return rows


def plan_lines(result: PlanResult) -> list[str]:
    """The whole plan: spec summary, options (or the closest miss), explanations, infeasible, questions."""
    spec = DeploymentSpec.model_validate(result.spec)
    lines = spec_lines(spec) + [""]
    if result.options:
        lines += option_table(result.options) + [""]
        lines += [f"{o.rank}. {o.explanation}" for o in result.options]
    else:
        lines.append("No option meets the SLO.")
        if result.relax:
            lines.append(f"To get one: {result.relax}.")
    lines += [f"note: {n}" for n in result.notes[1:]]
    if result.infeasible:
        lines.append(
            f"\n{len(result.infeasible)} combinations ruled out (first {INFEASIBLE_SHOWN}; --json lists all):"
        )
        lines += [
            f"  - {_short(i.model_id)} on {i.gpu_type}: {i.reason}"
            for i in result.infeasible[:INFEASIBLE_SHOWN]
        ]
    return lines


def _scenario_cells(s: Scenario) -> list[str]:
    b = s.best
    if b is None:
        return [s.label, "no option meets the SLO", s.relax or "", "", ""]
    return [
        s.label,
        f"{_short(b.model_id)}",
        f"{b.gpu_count} × {b.gpu_type} (TP {b.tensor_parallel}, {b.precision})",
        f"${b.cost_per_month_usd:,.0f}/month",
        f"TTFT {_ms(b.predicted.ttft_ms)} ms, TPOT {_ms(b.predicted.tpot_ms)} ms",
    ]


def compare_lines(c: Comparison) -> list[str]:
    """Scenarios side by side (best option of each), then each one's differences from the base."""
    columns = [_scenario_cells(c.base)] + [_scenario_cells(s) for s in c.scenarios]
    widths = [max(len(cell) for cell in col) for col in columns]
    lines = []
    for i in range(5):
        lines.append("   ".join(col[i].ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip())
    lines.append("")
    for s in c.scenarios:
        diffs = ", ".join(f"{k} {_signed(v)}" for k, v in s.diff.items())
        lines.append(f"{s.label}: {diffs or 'same as the base'}")
    lines += [f"note: {n}" for n in c.notes]
    return lines


def _signed(v: object) -> str:
    if isinstance(v, int | float):
        return f"{v:+,.0f}" if abs(v) >= 10 else f"{v:+.2f}"
    return str(v)
