"""The deploy job's body: an approved option rendered, validated, dry-run, applied, Ready and healthy,
with each step posted in the thread and the thread moved along the state machine.

    ConfigurationFinalized → DeploymentExecution → PostDeploymentValidation → ObservabilitySetup
    → Success, or → Failed (with the reason and what was rolled back)

`workers.jobs.deploy_approved` checks the approval and calls `deploy()`. Transient cluster failures
(`TransientDeployError`) leave the thread Failed, say that the job tries again, and propagate so
that the job system retries them (a retry moves the thread back through ConfigurationFinalized);
any other deployment error is answered in the thread once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot import blocks
from deploy.outcome import Progress, StepKind
from workers.notify import ProgressMessage, ThreadPoster

if TYPE_CHECKING:
    from bot.conversation import Conversation
    from deploy.outcome import ApplyOptions, DeployResult
    from deploy.render_settings import RenderSettings
    from workers.settings import WorkerSettings

logger = logging.getLogger(__name__)

STEP_TEXT: dict[StepKind, str] = {
    StepKind.DRY_RUN: ":white_check_mark: Dry run ok",
    StepKind.APPLIED: ":white_check_mark: Applied",
    StepKind.UNCHANGED: ":white_check_mark: Already applied, nothing changed",
    StepKind.READY: ":white_check_mark: Ready",
    StepKind.HEALTHY: ":white_check_mark: Healthy",
    StepKind.ROLLING_BACK: ":rewind: Rolling back",
}


class StepPoster:
    """The deployment's progress callback: one thread message per step, waits in the progress message.

    Posting never breaks the deployment: a Slack failure here is logged, so that the deployer still
    reaches its rollback when a later step fails.
    """

    def __init__(self, poster: ThreadPoster, progress: ProgressMessage) -> None:
        self.poster = poster
        self.progress = progress
        self.steps: list[StepKind] = []

    def __call__(self, step: Progress) -> None:
        self.steps.append(step.step)
        try:
            if step.step is StepKind.WAITING:
                self.progress.show(f"Waiting for Ready… {step.message}")
            else:
                self.poster.post(blocks.notice(f"{STEP_TEXT[step.step]}: {step.message}"))
        except (SlackApiError, OSError):
            logger.exception("could not post deployment step %s", step.step)


def apply_options(settings: WorkerSettings) -> ApplyOptions:
    from deploy.outcome import ApplyOptions

    return ApplyOptions(
        ready_timeout_s=settings.deploy_ready_timeout_s,
        poll_interval_s=settings.deploy_poll_interval_s,
        check_health=settings.deploy_check_health,
    )


def render_settings(settings: WorkerSettings, *, plan_id: int, thread_id: str) -> RenderSettings:
    """Namespace from PREDEPLOY_NAMESPACE; labels that link the objects to the plan and the thread."""
    from deploy.render_settings import RenderSettings

    return RenderSettings(namespace=settings.namespace, plan_id=f"plan-{plan_id}", thread_id=thread_id)


def deploy(
    conversation: Conversation, poster: ThreadPoster, settings: WorkerSettings, *, plan_id: int, rank: int
) -> str:
    """Deploy option `rank` of plan `plan_id` (its approval was checked); returns the outcome in a line.

    Raises:
        TransientDeployError: the cluster API failed in a way worth retrying (thread told, left Failed).
        PlannerError: the thread moved on, or the option's GPU is not in the catalog (nothing done).
    """
    from deploy.apply import api_client_from_kubeconfig, deploy_option
    from deploy.errors import DeployError, RolledBackError, TransientDeployError

    reply = conversation.load_plan(plan_id)
    option, _ = conversation.option(plan_id, rank)
    gpu = conversation.services.catalog().gpu(option.gpu_type)
    render = render_settings(settings, plan_id=plan_id, thread_id=conversation.thread_id)
    conversation.start_deployment(plan_id, rank)
    what = f"option {rank} ({option.model_id}, {option.gpu_count}x {option.gpu_type})"
    progress = ProgressMessage.start(
        poster, f"Deploying {what} to namespace {render.namespace}…", every_s=settings.progress_every_s
    )
    steps = StepPoster(poster, progress)
    try:
        api = api_client_from_kubeconfig(settings.kube_context, config_file=settings.kubeconfig)
        try:
            result = deploy_option(
                reply.result,
                option_rank=rank,
                gpu=gpu,
                settings=render,
                api_client=api,
                options=apply_options(settings),
                progress=steps,
            )
        finally:
            api.close()  # type: ignore[no-untyped-call]
    except TransientDeployError as exc:
        _end(conversation, progress, f":warning: The cluster API failed ({exc}). The job will try again.")
        raise
    except RolledBackError as exc:
        undone = "; ".join(exc.rollback) or "nothing had changed"
        text = f":x: Deployment of {what} failed and was rolled back: {exc.why}. Undone: {undone}."
        return _end(conversation, progress, text)
    except DeployError as exc:
        return _end(conversation, progress, f":x: Deployment of {what} failed: {exc}")
    conversation.deployed(ok=True)
    progress.finish(blocks.notice(_success_text(what, result, observed=bool(settings.prometheus_url))))
    return result.summary()


def _end(conversation: Conversation, progress: ProgressMessage, text: str) -> str:
    conversation.deployed(ok=False)
    progress.finish(blocks.notice(text))
    return text


def _success_text(what: str, result: DeployResult, *, observed: bool) -> str:
    checks = "healthy" if result.health else "health check skipped (PREDEPLOY_SKIP_HEALTH)"
    digest = (
        "Observed vs predicted latencies will be posted in this thread."
        if observed
        else "Set PROMETHEUS_URL for the workers to get observed vs predicted digests here."
    )
    return (
        f":rocket: Deployed {what}: {result.name} in {result.namespace} is Ready at "
        f"{result.url or 'no URL'}, {checks}. {digest}"
    )
