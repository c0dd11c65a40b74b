"""`predeploy chat`: the Slack conversation in a terminal, run by the same `Conversation` engine.

Lines are read from `read` and answers written to `write`, so tests drive it with plain strings.
Plain sentences refine the spec ("make it 5000 users") or ask what-if ("what if we use A100s?");
a few words act like the Slack buttons: plan, details N, choose N, approve, reject, spec, set, quit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot import blocks
from bot.conversation import Comparison, Conversation, PlanReply, SpecReply
from bot.parse import FIELD_BY_PATH, apply_spec_edits, get_path
from kb.errors import KbError
from planner.errors import InvalidInputError, PlannerError, close_matches

HELP = """Describe what you need in a sentence, then:
  plan                 recommend options for the spec
  details N            the full prediction of option N
  what if …            compare a change with the chosen (or best) option, e.g. "what if we use A100s?"
  compare N and M      two options side by side
  choose N             choose option N and ask an admin to approve it
  approve | reject     decide on the chosen option (admins only: PREDEPLOY_ADMINS)
  spec                 show the spec;  set FIELD=VALUE edits it, e.g. set slo.ttft_ms=300
  help | quit"""

_EMOJI = re.compile(r":[a-z_]+: ?")
# *bold*, _italic_ and `code` markers around text, not the underscores inside max_model_len
_SPAN = re.compile(r"(?<!\w)([*_`])(?=\S)(.+?)(?<=\S)\1(?!\w)")
_MENTION = re.compile(r"<@([^>|]+)(?:\|[^>]*)?>")


def plain(markdown: str) -> str:
    """Slack mrkdwn → terminal text (drops *bold*, _italic_, `code` and :emoji:; <@user> → user)."""
    text = _EMOJI.sub("", _MENTION.sub(r"\1", markdown)).replace("```", "")
    return _SPAN.sub(r"\2", text)


def spec_text(reply: SpecReply) -> str:
    lines = [f"Spec v{reply.version}:", *(f"  {plain(line)}" for line in blocks.spec_lines(reply.spec))]
    lines += [f"  ? {q}" for q in reply.spec.questions]
    lines += [f"  note: {n}" for n in reply.spec.notes]  # the working behind derived numbers
    lines += [f"  {plain(n)}" for n in reply.notes]
    return "\n".join(lines) + "\nType 'plan' to get options, or refine the request."


def options_text(reply: PlanReply, *, top: int = blocks.MAX_OPTIONS_SHOWN) -> str:
    result = reply.result
    if not result.options:
        return plain(blocks.no_options_message(result)["blocks"][0]["text"]["text"])
    shown = result.options[:top]
    lines = [f"Top {len(shown)} of {len(result.options)} options (plan {reply.plan_id}):"]
    for option in shown:
        lines += [f"  {line}" for line in plain(blocks.option_summary(option, reply.percentile)).splitlines()]
        lines.append(f"     {option.explanation}")
    if len(result.options) > top:
        lines.append(f"  …and {len(result.options) - top} more")
    return "\n".join(lines) + "\nType 'details N', 'what if …', 'compare N and M', or 'choose N'."


def comparison_text(comparison: Comparison) -> str:
    message = blocks.comparison_message(comparison.rows, title=comparison.title)
    return plain(message["blocks"][1]["text"]["text"]).strip() or comparison.title


def _scaled_value(spec: dict[str, Any], path: str, value: str) -> str:
    """'x2' of a numeric field ("set users=x2", "set budget=x0.5") as the number it makes of the
    spec's own; any other value as typed."""
    from planner.whatif import relative_factor

    factor, current = relative_factor(value), get_path(spec, path)
    if factor is None or not isinstance(current, int | float) or isinstance(current, bool):
        return value
    scaled = current * factor
    return str(round(scaled)) if isinstance(current, int) else f"{scaled:.6g}"


# the short names people type for the spec's fields ("set users=5000", "set ttft=300")
SET_ALIASES = {
    "users": "user_count",
    "qps": "traffic.peak_qps",
    "peak_qps": "traffic.peak_qps",
    "traffic.qps": "traffic.peak_qps",
    "input_tokens": "traffic.input_tokens_mean",
    "output_tokens": "traffic.output_tokens_mean",
    "prefix_tokens": "traffic.prefix_tokens",
    "ttft": "slo.ttft_ms",
    "ttft_ms": "slo.ttft_ms",
    "tpot": "slo.tpot_ms",
    "tpot_ms": "slo.tpot_ms",
    "itl_ms": "slo.tpot_ms",
    "e2e": "slo.e2e_ms",
    "e2e_ms": "slo.e2e_ms",
    "percentile": "slo.percentile",
    "budget": "budget_usd_month",
    "gpu": "preferred_gpu_types",
    "gpus": "preferred_gpu_types",
    "model": "preferred_models",
    "models": "preferred_models",
    "context": "context_length_tokens",
}


@dataclass
class TerminalChat:
    conversation: Conversation
    user: str
    is_admin: bool
    write: Callable[[str], Any]

    def run(self, lines: Iterable[str]) -> None:
        self.write(HELP)
        for raw in lines:
            line = raw.strip()
            if line.lower() in ("quit", "exit", "q"):
                break
            if line:
                self.handle(line)

    def handle(self, line: str) -> None:
        """One line; errors a person can fix are printed, never raised."""
        try:
            self.write(self._answer(line))
        except (PlannerError, KbError) as exc:
            self.write(f"error: {exc}")

    def _answer(self, line: str) -> str:
        word, _, rest = line.partition(" ")
        word = word.lower()
        if word == "help":
            return HELP
        if word == "spec":
            version, spec = self.conversation.spec()
            return spec_text(SpecReply(self.conversation.thread_id, version, spec))
        if word in ("plan", "recommend"):
            return options_text(self.conversation.plan(progress=self._progress))
        if word in ("details", "choose") and rest.strip().isdigit():
            return self._option(word, int(rest))
        if word in ("approve", "reject"):
            return self._decide(approve=word == "approve")
        if word == "set":
            return self._set(rest)
        return self._message(line)

    def _progress(self, done: int, total: int, what: str) -> None:
        if done == total:  # the search reports every model; the terminal shows where it ended
            text = blocks.planning_progress(done, total, what)
            self.write(f"  {text[0].lower()}{text[1:]}")

    def _message(self, text: str) -> str:
        conversation = self.conversation
        ts = f"{time.time():.6f}"  # unique like a Slack ts (what-ifs are not counted in the requests)
        ask = conversation.route(text)
        conversation.store_message(user_id=self.user, ts=ts, text=text, whatif=ask is not None)
        if ask is not None and ask.pair is not None:
            return comparison_text(conversation.compare_options(ask.plan_id, *ask.pair))
        if ask is not None:
            changes = conversation.changes_from_text(text)
            return comparison_text(conversation.what_if(ask.plan_id, ask.rank, changes))
        return spec_text(conversation.refine(author=self.user))

    def _latest_plan(self) -> int:
        plan_id = self.conversation.state().plan_id
        if plan_id is None:
            raise InvalidInputError("there are no options yet; type 'plan' first")
        return plan_id

    def _option(self, word: str, rank: int) -> str:
        plan_id = self._latest_plan()
        if word == "details":
            option, percentile = self.conversation.option(plan_id, rank)
            return plain(blocks.details_message(option, percentile=percentile)["blocks"][0]["text"]["text"])
        choice = self.conversation.choose(plan_id, rank, user_id=self.user)
        summary = plain(blocks.option_summary(choice.option, choice.percentile))
        return f"You chose:\n  {summary}\nAn admin must approve it ('approve' or 'reject')."

    def _decide(self, *, approve: bool) -> str:
        state = self.conversation.state()
        if not self.is_admin:
            return f"Only admins can approve or reject; {self.user} is not in PREDEPLOY_ADMINS."
        if state.plan_id is None or state.chosen_rank is None:
            raise InvalidInputError("choose an option first ('choose N')")
        decision = self.conversation.decide(
            state.plan_id, state.chosen_rank, user_id=self.user, approve=approve
        )
        tail = " Deployment is not configured in the terminal; render the manifests with `predeploy render`."
        return f"Option {decision.option.rank} {decision.decision} by {self.user} at {decision.at}." + (
            tail if approve else ""
        )

    def _set(self, assignment: str) -> str:
        path, sep, value = assignment.partition("=")
        if not sep and len(parts := assignment.split(None, 1)) == 2:  # "set slo.ttft_ms 300"
            path, sep, value = parts[0], "=", parts[1]
        path = SET_ALIASES.get(path.strip().lower(), path.strip())
        if not sep or path not in FIELD_BY_PATH:
            near = close_matches(path, FIELD_BY_PATH, n=2, cutoff=0.6) if sep else []
            if near:
                raise InvalidInputError(f"unknown field {path!r}; did you mean {' or '.join(near)}?")
            fields = ", ".join(FIELD_BY_PATH)
            raise InvalidInputError(f"write 'set FIELD=VALUE' with FIELD one of: {fields}")
        _, current = self.conversation.spec()
        value = _scaled_value(current.model_dump(mode="json"), path, value.strip())
        values = {path: {"value": {"type": "plain_text_input", "value": value}}}
        spec, errors = apply_spec_edits(
            values,
            current.model_dump(mode="json"),
            catalog=self.conversation.services.catalog(),
            partial=True,
        )
        if spec is None:
            raise InvalidInputError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        return spec_text(self.conversation.edit_spec(spec, author=self.user))
