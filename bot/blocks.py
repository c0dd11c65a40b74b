"""Every Block Kit message the bot posts, as pure functions of planner types.

Each function returns `{"text": fallback, "blocks": [...]}` ready for chat.postMessage/chat.update.
Slack's limits hold here and nowhere else: 50 blocks per message, 3000 characters per section,
150 per header, 75 per button text, 2000 per button value; long lists end with "…and N more".
Modals live in `bot.modals`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from bot import ids
from planner.plan import ACCURACY_NOTE_START, Option, PlanResult
from planner.spec import DeploymentSpec

Block = dict[str, Any]
Message = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_BUTTON_TEXT = 75
MAX_FALLBACK_CHARS = 3000
MAX_OPTIONS_SHOWN = 5


def clip(text: str, limit: int) -> str:
    """Cut text to `limit` characters, ending with "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, MAX_SECTION_CHARS)}}


def context(markdown: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(markdown, MAX_SECTION_CHARS)}]}


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_CHARS)}}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT)},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *buttons: dict[str, Any]) -> Block:
    return {"type": "actions", "block_id": block_id[:255], "elements": list(buttons[:25])}


def message(text: str, blocks: Sequence[Block]) -> Message:
    """A message whose blocks fit Slack's 50-block limit; the last block says how many were cut."""
    kept = list(blocks)
    if len(kept) > MAX_MESSAGE_BLOCKS:
        cut = len(kept) - (MAX_MESSAGE_BLOCKS - 1)
        kept = [*kept[: MAX_MESSAGE_BLOCKS - 1], context(f"…and {cut} more blocks not shown")]
    return {"text": clip(text, MAX_FALLBACK_CHARS), "blocks": kept}


def ref_value(*parts: object) -> str:
    """A button value carrying ids: "plan_id|rank"."""
    return "|".join(str(p) for p in parts)


# --- the conversation's messages ------------------------------------------------------------------


def root_message(user_id: str, text: str) -> Message:
    """The parent message of a thread started by the slash command."""
    quoted = clip(text.strip() or "(no description)", 2800).replace("\n", "\n>")
    return message(f"<@{user_id}> asked for a deployment plan", [section(f"<@{user_id}> asked:\n>{quoted}")])


def _list(items: Sequence[str], empty: str = "any") -> str:
    return ", ".join(items) if items else empty


def spec_lines(spec: DeploymentSpec) -> list[str]:
    """The spec as short readable lines (shared with the terminal)."""
    t, s, p = spec.traffic, spec.slo, spec.priorities
    who = "*Load:* a batch job" if spec.experience_class == "batch" else f"*Users:* {spec.user_count:,}"
    lines = [
        f"*Use case:* {spec.use_case.replace('_', ' ')} ({spec.experience_class}, {spec.domain})",
        f"{who}   *Peak:* {t.peak_qps:.3g} req/s   *Mean:* {t.mean_qps:.3g} req/s",
        f"*Tokens:* {t.input_tokens_mean:,} in / {t.output_tokens_mean:,} out",
        f"*SLO ({s.percentile}):* TTFT ≤ {s.ttft_ms:,.0f} ms, TPOT ≤ {s.tpot_ms:,.0f} ms, "
        f"e2e ≤ {s.e2e_ms:,.0f} ms",
        f"*Priorities:* latency {p.latency}, cost {p.cost}, accuracy {p.accuracy}",
        f"*GPUs:* {_list(spec.preferred_gpu_types)}"
        + (f" (not {_list(spec.excluded_gpu_types)})" if spec.excluded_gpu_types else ""),
        f"*Models:* {_list(spec.preferred_models)}"
        + (f" (not {_list(spec.excluded_models)})" if spec.excluded_models else ""),
    ]
    extras = [
        f"max {spec.max_gpus} GPUs" if spec.max_gpus else "",
        f"budget ${spec.budget_usd_month:,.0f}/month" if spec.budget_usd_month else "",
        f"precision {spec.precision}" if spec.precision else "",
        f"context {spec.context_length_tokens:,} tokens" if spec.context_length_tokens else "",
    ]
    if any(extras):
        lines.append("*Constraints:* " + ", ".join(e for e in extras if e))
    return lines


def spec_message(spec: DeploymentSpec, *, thread_id: str, version: int, notes: Sequence[str] = ()) -> Message:
    """The spec summary with *Review/Edit spec* and *Recommend*."""
    blocks: list[Block] = [section(f"*Deployment spec* (version {version})\n" + "\n".join(spec_lines(spec)))]
    if spec.traffic.derivation:
        blocks.append(context(" ".join([spec.traffic.derivation, *(f"({n})" for n in spec.notes)])))
    questions = [*spec.questions]
    if questions:
        asked = "\n• ".join(questions)
        blocks.append(section(f"*I guessed some things; tell me if they are wrong:*\n• {asked}"))
    if notes:
        blocks.append(context(" ".join(notes)))
    value = ref_value(thread_id, version)
    blocks.append(
        actions(
            f"spec-{version}",
            button("Review/Edit spec", ids.REVIEW_SPEC, value),
            button("Recommend", ids.RECOMMEND, value, style="primary"),
        )
    )
    return message(f"Deployment spec v{version}: {spec.use_case}, {spec.user_count:,} users", blocks)


USAGE = "Describe what you need, e.g. `/predeploy a support chatbot for 1000 users, latency matters`."
HELP = "\n".join(
    (
        USAGE,
        "I start a thread with a deployment spec (use case, traffic, SLO, constraints): *Edit spec* to "
        'change it, or refine it in the thread ("make it 5000 users", "no AMD", "budget $5k a month").',
        "*Recommend* plans ranked options with predicted latency and monthly cost. Then, in the thread: "
        '"what if we use A100s?", "what about 10x the users?", "compare 1 and 2"; *Choose* asks an '
        "admin to approve; an approved option is deployed, checked and observed against its prediction.",
    )
)


def is_help(text: str) -> bool:
    """'help', 'usage' or '?' on its own: a question about the bot, not a request to plan."""
    return text.strip().lower().strip("?!. ") in ("help", "usage", "")


def help_message() -> Message:
    return message("How to use predeploy", [section(HELP)])


def progress_message(text: str) -> Message:
    return message(text, [context(f":hourglass_flowing_sand: {text}")])


def planning_progress(done: int, total: int, what: str) -> str:
    """ "Planning… 3 of 42 models: Llama-3.1-8B-Instruct on H100-SXM", or that nothing got that far."""
    if total == 0:
        return "Planning… no model and GPU passed the screening (the reasons follow)"
    return f"Planning… {done} of {total} {what}"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f} ms"


def option_summary(option: Option, percentile: str) -> str:
    """One option in three lines (shared with the terminal)."""
    p = option.predicted
    mark = ":white_check_mark: meets SLO" if option.meets_slo else ":warning: misses SLO"
    return (
        f"*{option.rank}. {option.model_id}* on {option.gpu_count}× {option.gpu_type} "
        f"(TP {option.tensor_parallel} × {option.replicas} replica{'s' if option.replicas != 1 else ''}, "
        f"{option.precision})\n"
        f"TTFT {percentile} {_ms(p.ttft_ms)} · TPOT {percentile} {_ms(p.tpot_ms)} · "
        f"${option.cost_per_month_usd:,.0f}/month · {mark}"
        + (" · Pareto" if option.pareto else "")
        + (
            f" · :grey_question: {' and '.join(option.within_error)} near target"
            if option.within_error
            else ""
        )
    )


def option_blocks(option: Option, *, plan_id: int, percentile: str) -> list[Block]:
    value = ref_value(plan_id, option.rank)
    return [
        section(option_summary(option, percentile) + f"\n_{option.explanation}_"),
        actions(
            f"option-{plan_id}-{option.rank}",
            button("Details", ids.OPTION_DETAILS, value),
            button("What if…", ids.OPTION_WHATIF, value),
            button("Choose", ids.OPTION_CHOOSE, value, style="primary"),
        ),
    ]


def options_message(result: PlanResult, *, plan_id: int, top: int = MAX_OPTIONS_SHOWN) -> Message:
    """The ranked options with per-option buttons, or what to relax when none meets the SLO."""
    percentile = str(result.spec.get("slo", {}).get("percentile", "p95"))
    if not result.options:
        return no_options_message(result)
    shown = result.options[:top]
    blocks: list[Block] = [header(f"Top {len(shown)} of {len(result.options)} options")]
    for option in shown:
        blocks += [*option_blocks(option, plan_id=plan_id, percentile=percentile), {"type": "divider"}]
    more = len(result.options) - len(shown)
    tail = []
    if more > 0:
        tail.append(f"…and {more} more options")
    if result.infeasible:
        tail.append(f"{len(result.infeasible)} combinations ruled out (e.g. {result.infeasible[0].reason})")
    tail += [n for n in result.notes if n.lower().startswith(ACCURACY_NOTE_START)]  # how far off they may be
    if tail:
        blocks.append(context("; ".join(tail)))
    return message(f"{len(result.options)} options; best: {shown[0].model_id} on {shown[0].gpu_type}", blocks)


def no_options_message(result: PlanResult) -> Message:
    """What would give an option (the planner's advice), the nearest misses, then the models left
    out before sizing, one line per reason ("44 models: not among the models asked for")."""
    lines = ["*No option meets the SLO.*"]
    if result.relax:
        lines.append(f"To get one: {result.relax}.")
    sized = [i for i in result.infeasible if i.gpu_type != "*"]
    for i in sized[:INFEASIBLE_SHOWN]:
        lines.append(f"• {i.model_id.rsplit('/', 1)[-1]} on {i.gpu_type}: {i.reason}")
    if len(sized) > INFEASIBLE_SHOWN:
        lines.append(f"…and {len(sized) - INFEASIBLE_SHOWN} more combinations that miss")
    for reason, count in Counter(i.reason for i in result.infeasible if i.gpu_type == "*").items():
        lines.append(f"• {count} model{'s' if count > 1 else ''}: {reason}")
    lines += [f"_{q}_" for q in result.questions[:5]]
    return message("No option meets the SLO", [section("\n".join(lines))])


INFEASIBLE_SHOWN = 5  # nearest misses listed when no option meets the SLO


def details_message(option: Option, *, percentile: str) -> Message:
    p = option.predicted
    lines = [
        option_summary(option, percentile),
        f"e2e {percentile}: {_ms(p.e2e_ms)} · throughput {p.throughput_rps:.3g} req/s · "
        f"holds the SLO up to {p.max_qps:.3g} req/s",
        f"Score {option.score:.3f}" + (f" · provider {option.provider}" if option.provider else ""),
    ]
    if option.serving is not None:
        s = option.serving
        lines.append(
            f"vLLM: `--max-model-len {s.max_model_len} --gpu-memory-utilization {s.gpu_memory_utilization} "
            f"--max-num-seqs {s.max_num_seqs} --kv-cache-dtype {s.kv_cache_dtype}`"
        )
    lines.append(f"_{option.explanation}_")
    return message(f"Details of option {option.rank}", [section("\n".join(lines))])


def comparison_message(rows: Sequence[tuple[str, Sequence[str]]], *, title: str) -> Message:
    """A side-by-side table: rows of (label, [base value, scenario value, …]), first row = headings."""
    width = max((len(label) for label, _ in rows), default=0)
    cols = [max(len(v) for v in col) for col in zip(*(vals for _, vals in rows), strict=False)]
    lines = [
        f"{label:<{width}}  " + "  ".join(f"{v:<{w}}" for v, w in zip(vals, cols, strict=False))
        for label, vals in rows
    ]
    return message(
        title,
        [
            section(f"*{title}*"),
            section("```\n" + clip("\n".join(line.rstrip() for line in lines), 2900) + "\n```"),
        ],
    )


def approval_request(option: Option, *, plan_id: int, requested_by: str, percentile: str) -> Message:
    value = ref_value(plan_id, option.rank)
    return message(
        f"Approval requested for option {option.rank}",
        [
            section(f"<@{requested_by}> chose:\n" + option_summary(option, percentile)),
            context("An admin must approve before anything is deployed."),
            actions(
                f"approval-{plan_id}-{option.rank}",
                button("Approve", ids.APPROVE, value, style="primary"),
                button("Reject", ids.REJECT, value, style="danger"),
            ),
        ],
    )


def decision_message(option: Option, *, decision: str, user_id: str, at: str, percentile: str) -> Message:
    icon = ":white_check_mark:" if decision == "approved" else ":no_entry:"
    return message(
        f"Option {option.rank} {decision} by <@{user_id}>",
        [
            section(option_summary(option, percentile)),
            context(f"{icon} {decision.capitalize()} by <@{user_id}> at {readable_time(at)}"),
        ],
    )


def readable_time(iso: str) -> str:
    """ "2026-11-28T10:36:02+00:00" → "2026-11-28 10:36:02 UTC" (other strings unchanged)."""
    return iso.replace("T", " ", 1).replace("+00:00", " UTC") if "T" in iso else iso


def notice(text: str) -> Message:
    """A plain message in the thread."""
    return message(text, [section(text)])


def error_message(text: str, *, ref: str, retry_value: str | None = None) -> Message:
    """An error in the thread with a short reference id; optionally a *Retry* button."""
    blocks = [section(f":x: {text}"), context(f"reference: `{ref}`")]
    if retry_value:
        blocks.append(actions(f"retry-{ref}", button("Retry", ids.RETRY, retry_value)))
    return message(f"{text} (ref {ref})", blocks)
