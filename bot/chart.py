"""A chart of the plan: monthly cost against predicted TTFT, with the Pareto frontier and the SLO line.

matplotlib's Agg backend, imported inside the function so that importing bot.chart stays cheap.
Returns PNG bytes: the CLI writes them to --plot FILE, the bot uploads them to the thread.
"""

from __future__ import annotations

import io
import math

from planner.plan import PlanResult


def _label(model_id: str, gpu_count: int, gpu_type: str) -> str:
    return f"{model_id.split('/')[-1]} on {gpu_count}×{gpu_type}"


def cost_latency_frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (latency, cost) points no other point beats on both, fastest first."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not frontier or y < frontier[-1][1]:
            frontier.append((x, y))
    return frontier


LABEL_NEAR = 0.04  # points closer than this share of both axes' spans share one label ("#7,#8")


def _label_groups(
    points: list[tuple[float, float, int]], *, log_y: bool, target: float | None = None
) -> list[tuple[float, float, str]]:
    """(x, y, "#7,#8") per group of points that would print their labels over each other."""
    xs = [p[0] for p in points] + ([float(target)] if target else [])
    ys = [math.log10(p[1]) if log_y else p[1] for p in points]
    x_span, y_span = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    groups: list[list[tuple[float, float, int]]] = []
    for x, y, rank in sorted(points, key=lambda p: p[2]):
        yy = math.log10(y) if log_y else y
        for group in groups:
            gx, gy = group[0][0], math.log10(group[0][1]) if log_y else group[0][1]
            if abs(x - gx) / x_span < LABEL_NEAR and abs(yy - gy) / y_span < LABEL_NEAR:
                group.append((x, y, rank))
                break
        else:
            groups.append([(x, y, rank)])
    return [(g[0][0], g[0][1], ",".join(f"#{r}" for _, _, r in g)) for g in groups]


def render_plan_chart(result: PlanResult, *, dpi: int = 110) -> bytes:
    """PNG: one point per option (x: predicted TTFT at the SLO percentile, y: $/month), the Pareto
    options joined as a frontier, and the TTFT target as a vertical line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    slo = result.spec.get("slo", {})
    pct, target = slo.get("percentile", "p95"), slo.get("ttft_ms")
    fig = Figure(figsize=(8, 5), dpi=dpi)
    ax = fig.add_subplot()
    points = [(o.predicted.ttft_ms, o.cost_per_month_usd, o) for o in result.options if o.predicted.ttft_ms]
    if points:
        for pareto, colour, name in (
            (True, "tab:blue", "Pareto-optimal (cost, latency, quality)"),
            (False, "tab:gray", "dominated"),
        ):
            chosen = [p for p in points if p[2].pareto is pareto]
            if chosen:
                ax.scatter([p[0] for p in chosen], [p[1] for p in chosen], c=colour, zorder=3, label=name)
        costs = [p[1] for p in points]
        log_y = max(costs) > 10 * min(costs)
        for x, y, ranks in _label_groups(
            [(p[0], p[1], p[2].rank) for p in points], log_y=log_y, target=target
        ):
            ax.annotate(ranks, (x, y), fontsize=8, xytext=(4, 3), textcoords="offset points")
        frontier = cost_latency_frontier([(p[0], p[1]) for p in points])
        if len(frontier) > 1:
            ax.step(
                [p[0] for p in frontier],
                [p[1] for p in frontier],
                where="post",
                color="tab:blue",
                lw=1,
                alpha=0.6,
                label="cost/latency frontier",
            )
        if log_y:
            ax.set_yscale("log")
        key = "\n".join(
            f"#{o.rank} {_label(o.model_id, o.gpu_count, o.gpu_type)}" for o in result.options[:10]
        )
        ax.text(1.02, 1.0, key, transform=ax.transAxes, fontsize=7, va="top", family="monospace")
    else:
        ax.text(
            0.5,
            0.5,
            "no option meets the SLO" + (f"\n{result.relax}" if result.relax else ""),
            ha="center",
            va="center",
            wrap=True,
            transform=ax.transAxes,
            fontsize=9,
        )
    if target:
        ax.axvline(float(target), color="tab:red", ls="--", lw=1, label=f"SLO: {pct} TTFT ≤ {target:,.0f} ms")
    ax.set_xlabel(f"predicted {pct} TTFT (ms)")
    ax.set_ylabel("cost per month (USD)")
    ax.set_title(f"{result.spec.get('use_case', '')}: cost vs latency")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
