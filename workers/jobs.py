"""Jobs of the conversation: plain functions of ids and primitives, run by RQ or inline.

Each job reads the settings from the environment of the process that runs it, loads the thread
from the knowledge base, runs one step of the conversation engine and posts with `bot.blocks`.
User errors (`PlannerError`) are answered in the thread and end the job; anything else is
reported with a reference id and re-raised so that RQ records (and may retry) it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.conversation import Conversation
from bot.services import Services, llm_extractor, services_for
from kb.errors import KbError
from planner.errors import PlannerError
from planner.plan import PlanResult
from workers.notify import ProgressMessage, ThreadPoster, new_ref, slack_client
from workers.settings import WorkerSettings, load_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    settings: WorkerSettings
    conversation: Conversation
    poster: ThreadPoster


def context_for(thread_id: str, settings: WorkerSettings | None = None) -> JobContext:
    settings = settings or load_settings()
    conversation = Conversation(services_for(settings.database_url), thread_id)
    state = conversation.state()
    poster = ThreadPoster(slack_client(settings), state.channel_id, state.thread_ts)
    return JobContext(settings, conversation, poster)


@contextmanager
def answered(
    poster: ThreadPoster, what: str, on_user_error: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Answer user errors in the thread and end the job (no retry helps bad input).

    Anything else propagates: the job system retries transient failures and, on the final one,
    records it and tells the thread what failed (workers.failure), so nothing is posted twice.
    """
    try:
        yield
    except (PlannerError, KbError) as exc:
        (on_user_error or (lambda text: poster.post(blocks.notice(text))))(f"I could not {what}: {exc}")


def plan_thread(thread_id: str, spec_version: int, status_ts: str) -> int | None:
    """Plan the thread's spec, updating one progress message, then post the options and the chart.

    Returns the plan id, or None when the spec could not be planned (the thread says why).
    """
    ctx = context_for(thread_id)
    progress = ProgressMessage.start(
        ctx.poster, f"Planning spec v{spec_version}…", ts=status_ts, every_s=ctx.settings.progress_every_s
    )
    with answered(ctx.poster, "plan this spec", on_user_error=lambda t: progress.finish(blocks.notice(t))):
        reply = ctx.conversation.plan(progress=progress.step)
        progress.finish(blocks.options_message(reply.result, plan_id=reply.plan_id))
        _upload_chart(ctx.poster, reply.result)
        return reply.plan_id
    return None


def _upload_chart(poster: ThreadPoster, result: PlanResult) -> None:
    """The cost-versus-latency chart as an image in the thread (when there are options)."""
    from bot.chart import render_plan_chart

    if not result.options:
        return
    try:
        png = render_plan_chart(result)
        poster.upload_png(png, filename="options.png", title="Cost vs predicted latency")
    except (SlackApiError, OSError) as exc:  # the options are posted already; the chart is a bonus
        ref = new_ref()
        logger.exception("chart upload failed (ref %s)", ref)
        poster.post(blocks.notice(f"(The chart could not be uploaded: {exc.__class__.__name__}, ref {ref}.)"))


def whatif_thread(thread_id: str, plan_id: int, rank: int, changes_json: str) -> None:
    """Re-plan with the changes and post the comparison with option `rank` side by side."""
    ctx = context_for(thread_id)
    changes: dict[str, Any] = json.loads(changes_json)
    with answered(ctx.poster, "compare that scenario"):
        comparison = ctx.conversation.what_if(plan_id, rank, changes)
        ctx.poster.post(blocks.comparison_message(comparison.rows, title=comparison.title))


def spec_thread(thread_id: str, message_ts: str) -> None:
    """Extract the spec with the LLM (Ollama) when configured; the rule-based extractor otherwise."""
    ctx = context_for(thread_id)
    with answered(ctx.poster, "read that request"):
        reply = ctx.conversation.refine(author="predeploy", extractor=llm_extractor(ctx.settings.ollama_host))
        message = blocks.spec_message(
            reply.spec, thread_id=thread_id, version=reply.version, notes=reply.notes
        )
        ctx.poster.post(message)
    del message_ts  # part of the job id only: one extraction per message


def deploy_approved(plan_id: int, rank: int) -> str | None:
    """Deploy an option an admin approved (checked here again), or say that deployment is not configured.

    Each step is posted in the thread (`workers.deploy_job`). Transient cluster failures propagate
    so that the job system retries them; any other deployment error is answered in the thread, and
    the thread goes to Failed. Returns the outcome in a line (the job record's result), or None.
    """
    from workers.deploy_job import deploy

    settings = load_settings()
    ctx = context_for(_thread_of_plan(services_for(settings.database_url), plan_id), settings)
    with answered(ctx.poster, f"deploy option {rank}"):
        approval = ctx.conversation.approval(plan_id, rank)
        if approval is None or approval["decision"] != "approved":
            ctx.poster.post(
                blocks.notice(f"Option {rank} of plan {plan_id} is not approved; nothing was deployed.")
            )
            return None
        if not settings.kubeconfig:
            ctx.poster.post(blocks.notice(NOT_CONFIGURED.format(rank=rank, plan_id=plan_id)))
            return None
        return deploy(ctx.conversation, ctx.poster, settings, plan_id=plan_id, rank=rank)
    return None


NOT_CONFIGURED = (
    "Approval recorded. Deployment is not configured here (KUBECONFIG is not set for the workers), so "
    "nothing was applied. Render the manifests with `predeploy render --plan-id {plan_id} --option {rank}` "
    "and apply them, or give the workers a KUBECONFIG."
)


def _thread_of_plan(services: Services, plan_id: int) -> str:
    from kb import threads as kb_threads
    from kb.errors import NotFoundError

    with services.sessions() as session:
        plan = kb_threads.get_plan(session=session, plan_id=plan_id)
    if plan is None:
        raise NotFoundError(f"no plan {plan_id} is stored")
    return str(plan["thread_id"])
