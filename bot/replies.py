"""What the conversation engine answers: values the Slack layer renders with `bot.blocks` and the
terminal with `bot.terminal` (pure dataclasses of planner types)."""

from __future__ import annotations

from dataclasses import dataclass

from planner.plan import Option, PlanResult
from planner.spec import DeploymentSpec


@dataclass(frozen=True)
class SpecReply:
    thread_id: str
    version: int
    spec: DeploymentSpec
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WhatIfAsk:
    """A what-if question about the latest plan; the caller runs `Conversation.what_if` (a job)."""

    thread_id: str
    plan_id: int
    rank: int
    text: str
    pair: tuple[int, int] | None = None  # "compare 1 and 2": two options of the plan, no re-planning


@dataclass(frozen=True)
class PlanReply:
    thread_id: str
    plan_id: int
    result: PlanResult

    @property
    def percentile(self) -> str:
        return str(self.result.spec.get("slo", {}).get("percentile", "p95"))


@dataclass(frozen=True)
class Comparison:
    thread_id: str
    title: str
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (label, values per scenario); first row = headings


@dataclass(frozen=True)
class ChoiceReply:
    thread_id: str
    plan_id: int
    option: Option
    percentile: str
    user_id: str


@dataclass(frozen=True)
class Decision:
    thread_id: str
    plan_id: int
    option: Option
    percentile: str
    decision: str  # "approved" | "rejected"
    user_id: str
    at: str  # ISO time, UTC
