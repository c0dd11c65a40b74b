"""Block Kit messages of the outcome digest: observed vs predicted at the SLO percentile (pure).

Each function returns `{"text": fallback, "blocks": [...]}` (see `bot.blocks`). The table is a
monospace section, since Block Kit has no table that renders in every client.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import Message, context, header, message, section
from planner.corrections import Corrections
from planner.outcomes import Comparison, MetricComparison, ObservedMetrics

NOT_CONFIGURED = (
    "No metrics source configured: set PROMETHEUS_URL for the workers so that I can compare what the "
    "deployment does with what I predicted. Nothing was observed or stored."
)


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"


def _delta(row: MetricComparison) -> str:
    d = row.delta_pct
    return "—" if d is None else f"{d:+.0f}%"


def _verdict(row: MetricComparison) -> str:
    met = row.meets_slo
    if met is None:
        return "·"
    mark = "✓" if met else "✗"
    return mark if row.is_exact else f"{mark}~"


def table(comparison: Comparison) -> str:
    """The observed-vs-predicted table as a Slack code block."""
    return "```\n" + table_text(comparison) + "\n```"


def table_text(comparison: Comparison) -> str:
    """The observed-vs-predicted table as plain monospace text (also what the CLI prints)."""
    pct = comparison.percentile
    lines = [f"{pct + ' ' + 'metric':<11}{'observed':>11}{'predicted':>11}{'delta':>7}{'target':>11}  SLO"]
    for r in comparison.rows:
        lines.append(
            f"{r.label:<11}{_ms(r.observed_ms):>11}{_ms(r.predicted_ms):>11}{_delta(r):>7}"
            f"{_ms(r.target_ms):>11}  {_verdict(r)}"
        )
    return "\n".join(lines)


def _load_line(observed: ObservedMetrics, comparison: Comparison) -> str:
    parts = [f"{observed.requests_per_s or 0:.2f} req/s observed"]
    if comparison.predicted_rps is not None:
        parts[0] += f" (planned {comparison.predicted_rps:.2f})"
    if observed.output_tokens_per_s is not None:
        parts.append(f"{observed.output_tokens_per_s:,.0f} output tokens/s")
    if observed.kv_cache_usage is not None:
        parts.append(f"KV cache peak {observed.kv_cache_usage * 100:.0f}%")
    if observed.queue_waiting is not None:
        parts.append(f"queue peak {observed.queue_waiting:.0f}")
    return " · ".join(parts)


def _headline(comparison: Comparison) -> str:
    met = comparison.slo_met
    if met is None:
        return "SLO: not every target could be checked"
    if met:
        return "SLO met at " + comparison.percentile
    missed = ", ".join(r.label for r in comparison.rows if r.meets_slo is False)
    return f"SLO missed at {comparison.percentile}: {missed}"


def digest_message(
    observed: ObservedMetrics,
    comparison: Comparison,
    *,
    title: str,
    corrections: Corrections | None = None,
) -> Message:
    """Observed vs predicted for one deployment over a window."""
    where = f"`{observed.model_name}`" + (f" in `{observed.namespace}`" if observed.namespace else "")
    if not comparison.series_found:
        return no_series_message(observed, title=title)
    if not comparison.has_traffic:
        text = f"{title}: no traffic in the last {observed.window}, so there is nothing to compare."
        return message(text, [section(f"*{title}*\nNo traffic in the last {observed.window} for {where}.")])
    headline = _headline(comparison)
    blocks = [
        header(clip_title(title)),
        section(f"*{headline}* · last {observed.window} · {where}\n{_load_line(observed, comparison)}"),
        section(table(comparison)),
    ]
    notes: Sequence[str] = comparison.notes()
    if notes:
        blocks.append(context("Note: " + " ".join(notes)))
    if corrections is not None and corrections.note:
        blocks.append(context(f"Future plans for this model and GPU are {corrections.note}."))
    return message(f"{title}: {headline}", blocks)


def clip_title(text: str) -> str:
    return text[:150]


def no_series_message(observed: ObservedMetrics, *, title: str) -> Message:
    sel = f'model_name="{observed.model_name}"' + (
        f', namespace="{observed.namespace}"' if observed.namespace else ""
    )
    text = (
        f"*{title}*\nPrometheus has no vLLM series for `{sel}`. Check that the served model name is right "
        "and that Prometheus scrapes the predictor pods (the PodMonitor/ServiceMonitor rendered with the "
        "manifests)."
    )
    return message(f"{title}: no vLLM metrics found", [section(text)])


def not_configured_message() -> Message:
    return message(NOT_CONFIGURED, [section(f":information_source: {NOT_CONFIGURED}")])


def unavailable_message(reason: str) -> Message:
    text = f"I could not read the deployment's metrics: {reason}"
    return message(text, [section(f":warning: {text}")])


def nothing_deployed_message() -> Message:
    text = (
        "Nothing to observe in this thread yet: choose and deploy an option first; the digest then "
        "compares Prometheus' figures with the prediction."
    )
    return message(text, [section(text)])
