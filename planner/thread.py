"""The life of one conversation thread: the seed's state machine, pure.

The knowledge base stores a thread's status; bots and workers ask `transition()` for the next
one, so any process can pick a thread up after a restart and no one can skip a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from planner.errors import PlannerError


class ThreadStatus(StrEnum):
    """States of the seed's workflow state machine."""

    CONTEXT_COLLECTION = "ContextCollection"
    SPECIFICATION_REVIEW = "SpecificationReview"
    SPECIFICATION_EDITING = "SpecificationEditing"
    TRAFFIC_PROFILE_GENERATION = "TrafficProfileGeneration"
    MODEL_RECOMMENDATION = "ModelRecommendation"
    CAPACITY_PLANNING = "CapacityPlanning"
    PRESENTING_OPTIONS = "PresentingOptions"
    INTERACTIVE_EXPLORATION = "InteractiveExploration"
    CONFIGURATION_FINALIZED = "ConfigurationFinalized"
    DEPLOYMENT_EXECUTION = "DeploymentExecution"
    POST_DEPLOYMENT_VALIDATION = "PostDeploymentValidation"
    OBSERVABILITY_SETUP = "ObservabilitySetup"
    SUCCESS = "Success"
    FEEDBACK_LOOP = "FeedbackLoop"
    FAILED = "Failed"


S = ThreadStatus

# Allowed transitions. The seed's diagram, plus: a new message may restart the spec from any
# pre-deployment state, and a user may re-plan (what-if) or re-choose while options are shown.
TRANSITIONS: dict[ThreadStatus, frozenset[ThreadStatus]] = {
    S.CONTEXT_COLLECTION: frozenset({S.SPECIFICATION_REVIEW, S.CONTEXT_COLLECTION}),
    S.SPECIFICATION_REVIEW: frozenset(
        {S.SPECIFICATION_EDITING, S.TRAFFIC_PROFILE_GENERATION, S.SPECIFICATION_REVIEW, S.CONTEXT_COLLECTION}
    ),
    S.SPECIFICATION_EDITING: frozenset({S.SPECIFICATION_REVIEW, S.TRAFFIC_PROFILE_GENERATION}),
    S.TRAFFIC_PROFILE_GENERATION: frozenset({S.MODEL_RECOMMENDATION, S.SPECIFICATION_REVIEW, S.FAILED}),
    S.MODEL_RECOMMENDATION: frozenset({S.CAPACITY_PLANNING, S.SPECIFICATION_REVIEW, S.FAILED}),
    S.CAPACITY_PLANNING: frozenset({S.PRESENTING_OPTIONS, S.SPECIFICATION_REVIEW, S.FAILED}),
    S.PRESENTING_OPTIONS: frozenset(
        {
            S.INTERACTIVE_EXPLORATION,
            S.CONFIGURATION_FINALIZED,
            S.SPECIFICATION_REVIEW,
            S.SPECIFICATION_EDITING,
            S.TRAFFIC_PROFILE_GENERATION,
        }
    ),
    S.INTERACTIVE_EXPLORATION: frozenset(
        {S.CAPACITY_PLANNING, S.PRESENTING_OPTIONS, S.CONFIGURATION_FINALIZED, S.SPECIFICATION_REVIEW}
    ),
    S.CONFIGURATION_FINALIZED: frozenset(
        {S.DEPLOYMENT_EXECUTION, S.PRESENTING_OPTIONS, S.SPECIFICATION_REVIEW, S.FAILED}
    ),
    S.DEPLOYMENT_EXECUTION: frozenset({S.POST_DEPLOYMENT_VALIDATION, S.FAILED}),
    S.POST_DEPLOYMENT_VALIDATION: frozenset({S.OBSERVABILITY_SETUP, S.FAILED}),
    S.OBSERVABILITY_SETUP: frozenset({S.SUCCESS, S.FAILED}),
    S.SUCCESS: frozenset({S.FEEDBACK_LOOP}),
    S.FEEDBACK_LOOP: frozenset({S.FEEDBACK_LOOP}),
    S.FAILED: frozenset({S.SPECIFICATION_REVIEW, S.PRESENTING_OPTIONS, S.CONFIGURATION_FINALIZED}),
}


def can_transition(current: ThreadStatus, target: ThreadStatus) -> bool:
    """True when the state machine allows going from current to target."""
    return target in TRANSITIONS[current]


def transition(current: ThreadStatus, target: ThreadStatus) -> ThreadStatus:
    """Return target if allowed.

    Raises:
        PlannerError: the move is not allowed; the message says which moves are.
    """
    if not can_transition(current, target):
        allowed = ", ".join(sorted(TRANSITIONS[current]))
        raise PlannerError(f"this thread is in {current}; it can go to {allowed}, not {target}")
    return target


@dataclass(frozen=True)
class ThreadState:
    """What the knowledge base knows about one conversation thread."""

    id: str  # "<team>:<channel>:<thread_ts>" for Slack, "cli:<uuid>" for `predeploy chat`
    channel_id: str
    thread_ts: str
    user_id: str
    status: ThreadStatus
    spec_version: int  # 0 before the first spec
    spec: dict[str, object] | None
    plan_id: int | None
    chosen_rank: int | None
    messages: tuple[str, ...] = ()  # the user's requests in order (not what-ifs), for the spec's extraction
