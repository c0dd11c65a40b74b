"""Which failures are transient (retried) and which are final, and the wait before a retry."""

from __future__ import annotations

import http.client
import urllib.error

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from deploy.errors import RejectedError, TransientDeployError
from kb.errors import DatabaseUnavailableError, NotFoundError
from planner.errors import DoesNotFitError, PlannerError
from workers.queues import RETRY_OF, TIMEOUT_S, JobKind, RetryPolicy, parse_queue_names, redact
from workers.retry import Transience, WorkerKilledError, classify, wait_s


def slack_error(status: int, headers: dict[str, str] | None = None, error: str = "x") -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)


def chained() -> BaseException:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as exc:
            raise RuntimeError("cluster call failed") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "transient", "reason"),
    [
        (slack_error(429, {"Retry-After": "7"}), True, "Slack rate limit"),
        (slack_error(503), True, "Slack answered HTTP 503"),
        (slack_error(200, error="channel_not_found"), False, "Slack refused the call (channel_not_found)"),
        (TransientDeployError("HTTP 503 from the API server"), True, "Kubernetes API unavailable"),
        (RejectedError("create", "InferenceService", "x", 422, "bad"), False, "bad input"),
        (ConnectionResetError(104, "reset"), True, "connection dropped or timed out"),
        (TimeoutError("timed out"), True, "connection dropped or timed out"),
        (http.client.RemoteDisconnected("closed"), True, "connection dropped or timed out"),
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), True, "connection failed"),
        (chained(), True, "connection dropped or timed out"),
        (DatabaseUnavailableError("db down"), True, "database unavailable"),
        (PlannerError("unknown model"), False, "bad input"),
        (DoesNotFitError("needs 141 GiB"), False, "bad input"),
        (NotFoundError("no plan 7"), False, "bad input"),
        (WorkerKilledError("signal 9"), True, "the worker running the job was killed"),
        (KeyError("options"), False, "unexpected error (KeyError)"),
        (ValueError("bad"), False, "unexpected error (ValueError)"),
    ],
)
def test_classify(exc: BaseException, transient: bool, reason: str) -> None:
    verdict = classify(exc)
    assert verdict.transient is transient
    assert verdict.reason.startswith(reason)


def test_retry_after_is_read_from_the_429() -> None:
    assert classify(slack_error(429, {"retry-after": "12"})).retry_after_s == 12.0
    assert classify(slack_error(429, {"Retry-After": "soon"})).retry_after_s is None
    assert classify(slack_error(429)).retry_after_s is None


def test_kubernetes_api_exceptions() -> None:
    from kubernetes.client.exceptions import ApiException

    assert classify(ApiException(status=500)).transient
    assert classify(ApiException(status=429)).transient
    assert not classify(ApiException(status=403)).transient


def test_rq_abandoned_job_is_transient() -> None:
    from rq.exceptions import AbandonedJobError

    assert classify(AbandonedJobError()).reason == "the worker running the job died"


def test_wait_is_the_longer_of_backoff_and_retry_after() -> None:
    assert wait_s(5, Transience(True, "x")) == 5
    assert wait_s(5, Transience(True, "x", retry_after_s=30)) == 30
    assert wait_s(60, Transience(True, "x", retry_after_s=30)) == 60


def test_policies_cover_every_kind_and_back_off() -> None:
    assert set(RETRY_OF) == set(JobKind) == set(TIMEOUT_S)
    for policy in RETRY_OF.values():
        assert list(policy.intervals_s) == sorted(policy.intervals_s)
    policy = RetryPolicy(3, (10, 60))
    assert [policy.interval_s(n) for n in (1, 2, 3)] == [10, 60, 60]
    with pytest.raises(ValueError, match="bad retry policy"):
        RetryPolicy(1, ())


def test_queue_names_are_checked() -> None:
    assert parse_queue_names(" deploy, interactive,deploy ") == ["deploy", "interactive"]
    with pytest.raises(
        ValueError, match="unknown queue\\(s\\) fast; choose from interactive, deploy, scheduled"
    ):
        parse_queue_names("interactive,fast")
    with pytest.raises(ValueError, match="none given"):
        parse_queue_names(" , ")


def test_redact_hides_the_password() -> None:
    assert redact("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    assert redact("redis://user:s3cret@host/1") == "redis://user:***@host/1"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"
