"""What the listeners share: the conversation of a request, replies, errors, jobs and the admin check.

Listeners stay thin: `ack()`, then one call here or on the `Conversation`, then a reply built by
`bot.blocks`. Anything slow (planning, what-if, deployment, LLM extraction) becomes a job.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.conversation import Conversation, Services, SpecReply, open_thread, thread_id_for
from bot.settings import BotSettings
from kb.errors import KbError
from planner.errors import PlannerError
from workers.enqueue import JobKind, QueueUnavailableError, enqueue, job_id_for
from workers.settings import WorkerSettings

logger = logging.getLogger(__name__)

USER_ERRORS = (PlannerError, KbError)


def services_of(context: BoltContext) -> Services:
    return context["services"]  # type: ignore[no-any-return]


def settings_of(context: BoltContext) -> BotSettings:
    return context["settings"]  # type: ignore[no-any-return]


def after_ack(context: BoltContext, work: Callable[[], None]) -> None:
    """Run a listener's work after its ack on the app's small work pool.

    Acks stay fast under a burst: only a few threads do the work (posting, storing, extracting)
    while the listener threads return their acks, instead of twenty threads sharing the GIL.
    """
    pool: Executor = context["work"]

    def guarded() -> None:
        try:
            work()
        except Exception:
            logger.exception("work after ack failed (%s)", getattr(work, "__name__", work))

    pool.submit(guarded)


def new_ref() -> str:
    """A short reference id that ties a message in Slack to a line in the log."""
    return uuid.uuid4().hex[:8]


def post(client: WebClient, channel: str, thread_ts: str, message: dict[str, Any]) -> str:
    """Post in a thread; return the new message's ts."""
    response = client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message)
    return str(response["ts"])


def report_error(
    client: WebClient,
    *,
    channel: str,
    thread_ts: str | None,
    exc: BaseException,
    retry_value: str | None = None,
) -> None:
    """Say what went wrong in the thread: the message of a user error, or a reference id for a bug."""
    ref = new_ref()
    if isinstance(exc, (*USER_ERRORS, QueueUnavailableError)):
        logger.info("user error (ref %s): %s", ref, exc)
        text = str(exc)
    else:
        logger.error("failed (ref %s)", ref, exc_info=exc)
        text = "Something went wrong on my side; the team can find it in the logs by its reference."
    try:
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            **blocks.error_message(text, ref=ref, retry_value=retry_value),
        )
    except SlackApiError:
        logger.exception("could not report error %s to %s", ref, channel)


def continue_conversation(
    context: BoltContext, client: WebClient, *, channel: str, thread_ts: str, user_id: str, ts: str, text: str
) -> None:
    """A user's message in a thread: store it once, then refine the spec or start a what-if."""
    services = services_of(context)
    team_id = context.team_id or "T0"
    thread_id = thread_id_for(team_id, channel, thread_ts)
    try:
        open_thread(services, team_id=team_id, channel_id=channel, thread_ts=thread_ts, user_id=user_id)
        conversation = Conversation(services, thread_id)
        if blocks.is_help(text):  # a question about the bot, kept apart from the requests like a what-if
            if conversation.store_message(user_id=user_id, ts=ts, text=text, whatif=True):
                post(client, channel, thread_ts, blocks.help_message())
            return
        ask = conversation.route(text)
        if not conversation.store_message(user_id=user_id, ts=ts, text=text, whatif=ask is not None):
            logger.info("message %s in %s seen before (a Slack retry); not answering twice", ts, thread_id)
            return
        if ask is not None and ask.pair is not None:  # two options of the plan side by side: no job needed
            compared = conversation.compare_options(ask.plan_id, *ask.pair)
            post(client, channel, thread_ts, blocks.comparison_message(compared.rows, title=compared.title))
        elif ask is not None:
            changes = conversation.changes_from_text(text)
            start_whatif(context, conversation, ask.plan_id, ask.rank, changes, request_ts=ts)
        elif settings_of(context).ollama_host:
            submit(
                context, JobKind.PLAN, "workers.jobs.spec_thread", thread_id, ts, key=(thread_id, "spec", ts)
            )
        else:
            post_spec(client, channel, thread_ts, conversation.refine(author=user_id))
    except Exception as exc:  # every failure is reported in the thread, user errors without a traceback
        report_error(client, channel=channel, thread_ts=thread_ts, exc=exc, retry_value=None)


def post_spec(client: WebClient, channel: str, thread_ts: str, reply: SpecReply) -> str:
    message = blocks.spec_message(
        reply.spec, thread_id=reply.thread_id, version=reply.version, notes=reply.notes
    )
    return post(client, channel, thread_ts, message)


def submit(context: BoltContext, kind: JobKind, func: str, *args: Any, key: tuple[Any, ...]) -> bool:
    """Enqueue a job with a deterministic id; False when the same request was submitted before.

    Raises:
        QueueUnavailableError: Redis is down; the request stays stored and the user can retry.
    """
    jobs: WorkerSettings = context["jobs"]
    ref = enqueue(kind, func, *args, job_id=job_id_for(kind, *key), settings=jobs)
    return ref.created


def start_whatif(
    context: BoltContext,
    conversation: Conversation,
    plan_id: int,
    rank: int,
    changes: dict[str, Any],
    *,
    request_ts: str,
) -> bool:
    """Enqueue a what-if comparison; `request_ts` (the message or click) makes the job id unique."""
    thread_id = conversation.thread_id
    args = (thread_id, plan_id, rank, json.dumps(changes, sort_keys=True))
    return submit(
        context, JobKind.WHATIF, "workers.jobs.whatif_thread", *args, key=(thread_id, plan_id, request_ts)
    )


def is_admin(client: WebClient, user_id: str, admins: tuple[str, ...]) -> bool:
    """True when the user is listed in PREDEPLOY_ADMINS directly or through a user group (S…)."""
    if user_id in admins:
        return True
    for group in (a for a in admins if a.startswith("S")):
        try:
            members = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError:
            logger.exception("cannot list the members of user group %s", group)
            continue
        if user_id in members:
            return True
    return False


def split_value(value: str, count: int) -> list[str]:
    """Split a button value "a|b|c" into exactly `count` parts.

    Raises:
        PlannerError: the value does not have that shape (a stale or forged button).
    """
    parts = value.split("|")
    if len(parts) != count:
        raise PlannerError(f"this button is out of date ({value!r}); start again with /predeploy")
    return parts


def conversation_of_plan(context: BoltContext, click: Any) -> Conversation:
    """The conversation of the thread a button was clicked in."""
    thread_id = thread_id_for(context.team_id or "T0", click.channel, click.thread_ts)
    return Conversation(services_of(context), thread_id)


def start_plan(context: BoltContext, thread_id: str) -> tuple[int, bool]:
    """Enqueue planning of the thread's latest spec version: (version, False when already planned or queued).

    The job posts and updates its own progress message.
    """
    version, _ = Conversation(services_of(context), thread_id).spec()
    key = (thread_id, f"v{version}")
    return version, submit(context, JobKind.PLAN, "workers.jobs.plan_thread", thread_id, version, "", key=key)
