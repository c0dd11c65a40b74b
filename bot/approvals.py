"""A thread's choice, approval and deployment steps; `Conversation` exposes each as a method.

choose -> (refused attempts by non-admins) -> decide -> start_deployment -> deployed. Each step
checks that the option is still the thread's current choice, so a stale button acts on nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from bot.replies import ChoiceReply, Decision
from kb import threads as kb_threads
from planner.errors import InvalidInputError
from planner.thread import ThreadState, ThreadStatus

if TYPE_CHECKING:
    from bot.conversation import Conversation

S = ThreadStatus
PRE_PLAN = {S.CONTEXT_COLLECTION, S.SPECIFICATION_REVIEW, S.SPECIFICATION_EDITING}
DEPLOYABLE = {S.CONFIGURATION_FINALIZED, S.DEPLOYMENT_EXECUTION, S.FAILED}


def choose(conversation: Conversation, plan_id: int, rank: int, *, user_id: str) -> ChoiceReply:
    """Record the choice of an option and ask for approval."""
    option, percentile = conversation.option(plan_id, rank)
    state = conversation.state()
    if state.plan_id != plan_id or state.status in PRE_PLAN:
        raise InvalidInputError(
            "these options were planned for an earlier spec; click Recommend on the latest spec first"
        )
    if state.status == S.CONFIGURATION_FINALIZED:
        conversation.move(S.PRESENTING_OPTIONS)  # a new choice replaces the one awaiting approval
    conversation.move(S.CONFIGURATION_FINALIZED)
    with conversation.services.sessions.begin() as session:
        kb_threads.record_choice(
            session=session, thread_id=conversation.thread_id, plan_id=plan_id, rank=rank, user_id=user_id
        )
        kb_threads.record_approval(
            session=session,
            plan_id=plan_id,
            rank=rank,
            requested_by=user_id,
            decided_by=None,
            decision="pending",
        )
    return ChoiceReply(conversation.thread_id, plan_id, option, percentile, user_id)


def start_deployment(conversation: Conversation, plan_id: int, rank: int) -> None:
    """Move to DeploymentExecution for the thread's approved choice (a retried job continues it).

    Raises:
        InvalidInputError: the thread has moved on (another choice, a new spec): nothing to deploy.
    """
    state = conversation.state()
    if (state.plan_id, state.chosen_rank) != (plan_id, rank) or state.status not in DEPLOYABLE:
        raise InvalidInputError(
            f"option {rank} of plan {plan_id} is no longer the thread's choice awaiting deployment "
            f"({state.status}, latest choice: option {state.chosen_rank or '-'}); nothing was deployed"
        )
    if state.status == S.FAILED:  # a retry after a transient cluster failure
        conversation.move(S.CONFIGURATION_FINALIZED)
    if state.status != S.DEPLOYMENT_EXECUTION:  # not a job resumed after its worker died
        conversation.move(S.DEPLOYMENT_EXECUTION)


def deployed(conversation: Conversation, *, ok: bool) -> None:
    """The deployment ended: validated and observed (Success), or Failed (choose and approve again)."""
    steps = (S.POST_DEPLOYMENT_VALIDATION, S.OBSERVABILITY_SETUP, S.SUCCESS) if ok else (S.FAILED,)
    for step in steps:
        conversation.move(step)


def refused(conversation: Conversation, plan_id: int, rank: int, *, user_id: str, action: str) -> bool:
    """Store a non-admin's refused attempt to approve or reject on the option's approval record
    (its `reason` keeps one line per attempt). False when the option has no approval request."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    with conversation.services.sessions.begin() as session:
        found = kb_threads.get_approval(session=session, plan_id=plan_id, rank=rank)
        if found is None:
            return False
        line = f"refused: <@{user_id}> tried to {action} at {at} (not an admin)"
        kb_threads.record_approval(
            session=session,
            plan_id=plan_id,
            rank=rank,
            requested_by=found["requested_by"],
            decided_by=found["decided_by"],
            decision=found["decision"],
            reason="\n".join(r for r in (found["reason"], line) if r),
            at=found["at"],
        )
    return True


def decide(conversation: Conversation, plan_id: int, rank: int, *, user_id: str, approve: bool) -> Decision:
    """Record an admin's decision on a chosen option (the caller checked that user_id is an admin).

    Raises:
        InvalidInputError: this option was not chosen, was decided already, or is no longer the
            thread's choice (another option was chosen, or the spec changed since).
    """
    option, percentile = conversation.option(plan_id, rank)
    state = conversation.state()
    decision = "approved" if approve else "rejected"
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with conversation.services.sessions.begin() as session:
        found = kb_threads.get_approval(session=session, plan_id=plan_id, rank=rank)
        request = _decidable(found, state, plan_id, rank)
        kb_threads.record_approval(
            session=session,
            plan_id=plan_id,
            rank=rank,
            requested_by=request["requested_by"],
            decided_by=user_id,
            decision=decision,
            reason=request.get("reason") or "",
            at=at,
        )
    if not approve:
        conversation.move(S.PRESENTING_OPTIONS, tolerate=True)
    return Decision(conversation.thread_id, plan_id, option, percentile, decision, user_id, at.isoformat())


def _decidable(request: dict[str, Any] | None, state: ThreadState, plan_id: int, rank: int) -> dict[str, Any]:
    """The approval request of option `rank`, when it awaits a decision and is the thread's current choice.

    Raises:
        InvalidInputError: not chosen, decided already, or superseded (new choice or new spec).
    """
    if request is None:
        raise InvalidInputError(f"option {rank} was not chosen, so there is nothing to approve")
    if request["decision"] != "pending":
        who, when = request["decided_by"], request["at"]
        raise InvalidInputError(f"option {rank} was already {request['decision']} by <@{who}> at {when}")
    if (state.status, state.plan_id, state.chosen_rank) != (S.CONFIGURATION_FINALIZED, plan_id, rank):
        raise InvalidInputError(
            f"this request for option {rank} is out of date: the thread has moved on ({state.status}, "
            f"latest choice: option {state.chosen_rank or '-'}); nothing was decided"
        )
    return request
