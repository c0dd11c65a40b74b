"""The conversation engine: one `Conversation` per thread, used by Slack, the jobs and `predeploy chat`.

Every step loads the thread from the knowledge base, moves it along the seed's state machine
(`planner.thread.transition`) and stores what changed, so any process can continue a thread after
a restart. The engine returns values (`bot.replies`); the Slack layer renders them with
`bot.blocks`, the terminal with `bot.terminal`. The choice/approval/deployment steps live in
`bot.approvals` and the reading of what-if questions in `bot.whatif_text`; the methods here call them.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import approvals
from bot.planning import Progress, compare_option, compare_pair, run_pipeline
from bot.replies import ChoiceReply, Comparison, Decision, PlanReply, SpecReply, WhatIfAsk
from bot.services import Extractor, Services, find_thread, open_thread
from bot.whatif_text import changes_from_text, is_whatif, option_pair
from kb import threads as kb_threads
from kb.errors import NotFoundError
from kb.threads import thread_key as thread_id_for
from planner.errors import InvalidInputError, PlannerError
from planner.plan import Option, PlanResult
from planner.spec import DeploymentSpec
from planner.thread import ThreadState, ThreadStatus

__all__ = [
    "ChoiceReply",
    "Comparison",
    "Conversation",
    "Decision",
    "Extractor",
    "PlanReply",
    "Services",
    "SpecReply",
    "WhatIfAsk",
    "find_thread",
    "is_whatif",
    "open_thread",
    "thread_id_for",
]

logger = logging.getLogger(__name__)

S = ThreadStatus


def unchanged_note(text: str, *, has_plan: bool) -> str:
    """What to say when a message left the spec as it was."""
    quoted = text if len(text) <= 80 else text[:77] + "..."
    head = f"Nothing in \u201c{quoted}\u201d changed the spec (still this version): "
    if is_whatif(text) and not has_plan:
        return head + "there is no plan yet to ask a what-if about; type 'plan' first, or state the change."
    return head + (
        "I found no GPU, model, number of users, token length or latency target I know in it. "
        "Name one (e.g. 'use H100s', '5000 users', 'TTFT under 300 ms'), or edit the spec."
    )


class Conversation:
    """One thread's conversation. Cheap to create: all state is in the knowledge base."""

    def __init__(self, services: Services, thread_id: str) -> None:
        self.services = services
        self.thread_id = thread_id

    # --- messages and the spec ---------------------------------------------------------------

    def store_message(self, *, user_id: str, ts: str, text: str, whatif: bool = False) -> bool:
        """Store a user's message once; False when this ts was seen already (a Slack retry). A what-if
        question (or a question about the bot) is kept apart: later refinements read the spec from the
        requests only."""
        with self.services.sessions.begin() as session:
            return kb_threads.add_message(
                session=session,
                thread_id=self.thread_id,
                user_id=user_id,
                ts=ts,
                text=text,
                kind="whatif" if whatif else "request",
            )

    def route(self, text: str) -> WhatIfAsk | None:
        """A what-if question about the latest plan, or None when the message refines the spec."""
        state = self.state()
        if state.plan_id is None or not is_whatif(text):
            return None
        return WhatIfAsk(self.thread_id, state.plan_id, state.chosen_rank or 1, text, option_pair(text))

    def refine(self, *, author: str, extractor: Extractor | None = None) -> SpecReply:
        """Extract the spec from every message of the thread (the latest refines the rest) and store it.

        Raises:
            PlannerError: the messages cannot make a spec (empty, absurd numbers); nothing is lost.
        """
        state = self.state()
        messages = list(state.messages)
        if not messages:
            raise InvalidInputError("this thread has no request yet; describe the use case first")
        spec, notes = self.services.extract(messages[-1], messages[:-1], extractor=extractor)
        if state.spec is not None and state.spec == spec.model_dump(mode="json"):
            # say so instead of posting the same spec as a new version
            unchanged = unchanged_note(messages[-1], has_plan=state.plan_id is not None)
            return SpecReply(self.thread_id, state.spec_version, spec, (*notes, unchanged))
        return self._store_spec(spec, author=author, notes=tuple(notes))

    def edit_spec(self, spec: DeploymentSpec, *, author: str) -> SpecReply:
        """Store a spec edited in the modal as the next version."""
        self.move(S.SPECIFICATION_EDITING, tolerate=True)
        return self._store_spec(spec, author=author, notes=(f"Edited by <@{author}>.",))

    def _store_spec(self, spec: DeploymentSpec, *, author: str, notes: tuple[str, ...]) -> SpecReply:
        with self.services.sessions.begin() as session:
            version = kb_threads.add_spec_version(
                session=session, thread_id=self.thread_id, spec=spec.model_dump(mode="json"), author=author
            )
        self.move(S.SPECIFICATION_REVIEW, tolerate=True)
        return SpecReply(self.thread_id, version, spec, notes)

    def spec(self) -> tuple[int, DeploymentSpec]:
        """The latest stored spec and its version (buttons on older versions act on the latest).

        Raises:
            NotFoundError: no spec stored yet.
        """
        with self.services.sessions() as session:
            found = kb_threads.latest_spec(session=session, thread_id=self.thread_id)
        if found is None:
            raise NotFoundError("this thread has no spec yet; describe what you need first")
        return found[0], DeploymentSpec.model_validate(found[1])

    def state(self) -> ThreadState:
        """The thread as stored.

        Raises:
            NotFoundError: the thread is not stored (never started, or a different database).
        """
        with self.services.sessions() as session:
            state = kb_threads.get_thread(session=session, thread_id=self.thread_id)
        if state is None:
            raise NotFoundError(
                f"I have no record of this thread ({self.thread_id}); start again with /predeploy"
            )
        return state

    def move(self, target: ThreadStatus, *, tolerate: bool = False) -> None:
        """Move along the state machine; with `tolerate`, an illegal move leaves the status as it is."""
        with self.services.sessions.begin() as session:
            try:
                kb_threads.set_status(session=session, thread_id=self.thread_id, status=target)
            except PlannerError:
                if not tolerate:
                    raise
                logger.info("thread %s stays in its state instead of moving to %s", self.thread_id, target)

    # --- planning, what-if, choice, approval ---------------------------------------------------

    def plan(self, *, progress: Progress | None = None) -> PlanReply:
        """Plan the latest spec, store the options, and present them.

        Raises:
            PlannerError: the spec cannot be planned; the thread goes to Failed and can be re-planned.
        """
        number, spec = self.spec()
        self._enter_planning()
        try:
            services = self.services
            result = run_pipeline(
                spec,
                services.catalog(),
                params=services.perf_params(),
                outcomes=services.outcomes(),
                progress=progress,
            )
        except Exception:
            self.move(S.FAILED, tolerate=True)
            raise
        with self.services.sessions.begin() as session:
            plan_id = kb_threads.save_plan(
                session=session,
                thread_id=self.thread_id,
                spec_version=number,
                result=result.model_dump(mode="json"),
            )
        self.move(S.PRESENTING_OPTIONS, tolerate=True)
        return PlanReply(self.thread_id, plan_id, result)

    def _enter_planning(self) -> None:
        status = self.state().status
        if status not in (S.SPECIFICATION_REVIEW, S.SPECIFICATION_EDITING, S.PRESENTING_OPTIONS):
            self.move(S.SPECIFICATION_REVIEW, tolerate=True)
        for step in (S.TRAFFIC_PROFILE_GENERATION, S.MODEL_RECOMMENDATION, S.CAPACITY_PLANNING):
            self.move(step)

    def load_plan(self, plan_id: int) -> PlanReply:
        with self.services.sessions() as session:
            data = kb_threads.get_plan(session=session, plan_id=plan_id)
        if data is None or data["thread_id"] != self.thread_id:
            raise NotFoundError(f"plan {plan_id} is not stored for this thread; click Recommend again")
        return PlanReply(self.thread_id, plan_id, PlanResult.model_validate(data["result"]))

    def option(self, plan_id: int, rank: int) -> tuple[Option, str]:
        """An option of a stored plan and the plan's SLO percentile.

        Raises:
            InvalidInputError: the plan has no option with that rank.
        """
        reply = self.load_plan(plan_id)
        for option in reply.result.options:
            if option.rank == rank:
                return option, reply.percentile
        raise InvalidInputError(f"plan {plan_id} has no option {rank}; it has {len(reply.result.options)}")

    def what_if(self, plan_id: int, rank: int, changes: dict[str, Any]) -> Comparison:
        """Re-plan with changes and compare with option `rank` of the plan."""
        base = self.load_plan(plan_id)
        self.move(S.INTERACTIVE_EXPLORATION, tolerate=True)
        try:
            catalog, params = self.services.catalog(), self.services.perf_params()
            outcomes = self.services.outcomes()
            title, rows = compare_option(
                base.result, rank, changes, catalog, params=params, outcomes=outcomes
            )
            return Comparison(self.thread_id, title, rows)
        finally:
            self.move(S.PRESENTING_OPTIONS, tolerate=True)

    def compare_options(self, plan_id: int, first: int, second: int) -> Comparison:
        """Two options of a stored plan side by side ("compare 1 and 2").

        Raises:
            InvalidInputError: the plan has no such option.
        """
        title, rows = compare_pair(self.load_plan(plan_id).result, first, second)
        return Comparison(self.thread_id, title, rows)

    def changes_from_text(self, text: str) -> dict[str, Any]:
        """The what-if changes a sentence asks for (see `bot.whatif_text.changes_from_text`).

        Raises:
            InvalidInputError: nothing to change could be read (the message gives examples).
        """
        return changes_from_text(text, catalog=self.services.catalog)

    def choose(self, plan_id: int, rank: int, *, user_id: str) -> ChoiceReply:
        """Record the choice of an option and ask for approval."""
        return approvals.choose(self, plan_id, rank, user_id=user_id)

    def approval(self, plan_id: int, rank: int) -> dict[str, Any] | None:
        """The approval record of an option ({decision, requested_by, decided_by, at}), or None."""
        with self.services.sessions() as session:
            return kb_threads.get_approval(session=session, plan_id=plan_id, rank=rank)

    def start_deployment(self, plan_id: int, rank: int) -> None:
        """Move to DeploymentExecution for the thread's approved choice (a retried job continues it).

        Raises:
            InvalidInputError: the thread has moved on (another choice, a new spec): nothing to deploy.
        """
        approvals.start_deployment(self, plan_id, rank)

    def deployed(self, *, ok: bool) -> None:
        """The deployment ended: validated and observed (Success), or Failed (choose and approve again)."""
        approvals.deployed(self, ok=ok)

    def refused(self, plan_id: int, rank: int, *, user_id: str, action: str) -> bool:
        """Store a non-admin's refused attempt to approve or reject (see `bot.approvals.refused`)."""
        return approvals.refused(self, plan_id, rank, user_id=user_id, action=action)

    def decide(self, plan_id: int, rank: int, *, user_id: str, approve: bool) -> Decision:
        """Record an admin's decision on a chosen option (the caller checked that user_id is an admin).

        Raises:
            InvalidInputError: this option was not chosen, was decided already, or is no longer the
                thread's choice (another option was chosen, or the spec changed since).
        """
        return approvals.decide(self, plan_id, rank, user_id=user_id, approve=approve)
