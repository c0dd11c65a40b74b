"""Outcome jobs: observe_deployment stores outcomes; post_digest posts to a loopback Slack Web API."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from kb import repository
from kb import threads as kb_threads
from kb.errors import NotFoundError
from planner.errors import InvalidInputError
from planner.outcomes import LatencyStats
from planner.thread import ThreadStatus
from tests.bot.slack_stub import SlackStub
from tests.workers.outcome_fixtures import (
    GPU,
    MODEL_ID,
    SERVED_NAME,
    FakeSource,
    observed,
    plan_dict,
    store_thread,
)
from tests.workers.test_prometheus import answer, busy_model
from workers import records
from workers.observe import (
    deployment_id,
    observe_all_deployments,
    observe_deployment,
    parse_deployment_id,
    post_all_digests,
    post_digest,
)
from workers.prometheus import MetricsUnavailableError
from workers.settings import WorkerSettings

PATH_TO_SUCCESS = (
    ThreadStatus.SPECIFICATION_REVIEW,
    ThreadStatus.TRAFFIC_PROFILE_GENERATION,
    ThreadStatus.MODEL_RECOMMENDATION,
    ThreadStatus.CAPACITY_PLANNING,
    ThreadStatus.PRESENTING_OPTIONS,
    ThreadStatus.CONFIGURATION_FINALIZED,
    ThreadStatus.DEPLOYMENT_EXECUTION,
    ThreadStatus.POST_DEPLOYMENT_VALIDATION,
    ThreadStatus.OBSERVABILITY_SETUP,
    ThreadStatus.SUCCESS,
)


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    stub = SlackStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def settings(tmp_path: Path, seeded_sqlite_template: Path, slack: SlackStub) -> Iterator[WorkerSettings]:
    db = tmp_path / "kb.db"
    shutil.copyfile(seeded_sqlite_template, db)
    yield WorkerSettings(
        redis_url=None,
        database_url=f"sqlite:///{db}",
        slack_bot_token="xoxb-test",
        slack_api_url=slack.api_url,
    )
    records.forget()


def outcomes(settings: WorkerSettings) -> list:
    with records.sessions_for(settings.database_url)() as session:
        return repository.list_outcomes(session=session)


def deploy_thread(settings: WorkerSettings, thread_id: str) -> None:
    with records.sessions_for(settings.database_url)() as session, session.begin():
        for status in PATH_TO_SUCCESS:
            kb_threads.set_status(session=session, thread_id=thread_id, status=status)


def status_of(settings: WorkerSettings, thread_id: str) -> ThreadStatus:
    with records.sessions_for(settings.database_url)() as session:
        state = kb_threads.get_thread(session=session, thread_id=thread_id)
    assert state is not None
    return state.status


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def posted_text(slack: SlackStub) -> str:
    (call,) = slack.of("chat.postMessage", channel="C1", thread_ts="111.222")
    return str(call.params["text"]) + "\n" + str(call.params.get("blocks"))


# --- ids ----------------------------------------------------------------------------------------------


def test_deployment_ids_round_trip() -> None:
    assert deployment_id(12, 3) == "plan-12-option-3"
    assert parse_deployment_id("plan-12-option-3") == (12, 3)


@pytest.mark.parametrize("text", ["12-3", "plan-x-option-1", "plan-1", ""])
def test_bad_deployment_ids_say_the_form(text: str) -> None:
    with pytest.raises(InvalidInputError, match="plan-<plan id>-option-<rank>"):
        parse_deployment_id(text)


# --- observe_deployment -----------------------------------------------------------------------------


def test_without_prometheus_nothing_is_queried_or_stored(settings: WorkerSettings) -> None:
    store_thread(settings, plan=plan_dict())
    result = observe_deployment("plan-1-option-1", settings=settings)
    assert result["configured"] is False and "no metrics source configured" in result["message"].lower()
    assert outcomes(settings) == []


def test_observe_stores_an_outcome_and_accumulates_windows(settings: WorkerSettings) -> None:
    store_thread(settings, plan=plan_dict())
    source = FakeSource(observed())
    first = observe_deployment("plan-1-option-1", "1h", settings=settings, source=source)
    assert source.calls == [{"model_name": SERVED_NAME, "namespace": None, "window": "1h"}]
    assert first["configured"] and first["has_traffic"] and first["slo_met"] is True
    assert first["compliance"]["ttft"]["observed_ms"] == 260.0
    assert first["compliance"]["ttft"]["predicted_ms"] == 200.0
    (stored,) = outcomes(settings)
    assert (stored.deployment_id, stored.model_id, stored.gpu_type, stored.plan_id) == (
        "plan-1-option-1",
        MODEL_ID,
        GPU,
        1,
    )
    assert stored.ttft_p90_ms == pytest.approx(234.0) and stored.throughput_avg_rps == 1.5
    observe_deployment("plan-1-option-1", "1h", settings=settings, source=source)
    (again,) = outcomes(settings)
    assert len(again.traffic_observed["observations"]) == 2
    # 2 windows of 1 h with 5,400 requests each; TTFT was 30% slower than predicted
    second = observe_deployment("plan-1-option-1", "1h", settings=settings, source=source)
    assert 1.0 < second["corrections"]["ttft"] < 1.3
    assert "TTFT" in second["corrections"]["note"]


def test_an_overridden_served_name_and_namespace_are_used(settings: WorkerSettings) -> None:
    store_thread(settings, plan=plan_dict())
    source = FakeSource(observed())
    observe_deployment(
        "plan-1-option-1", "5m", model_name="chat", namespace="team-a", settings=settings, source=source
    )
    assert source.calls == [{"model_name": "chat", "namespace": "team-a", "window": "5m"}]


def test_missing_plan_or_option_is_a_clear_error(settings: WorkerSettings) -> None:
    store_thread(settings, plan=plan_dict())
    with pytest.raises(NotFoundError, match="no plan 9"):
        observe_deployment("plan-9-option-1", settings=settings, source=FakeSource(observed()))
    with pytest.raises(NotFoundError, match="plan 1 has no option 4 \\(options: 1\\)"):
        observe_deployment("plan-1-option-4", settings=settings, source=FakeSource(observed()))


def test_unavailable_metrics_store_nothing(settings: WorkerSettings) -> None:
    store_thread(settings, plan=plan_dict())
    with pytest.raises(MetricsUnavailableError):
        observe_deployment(
            "plan-1-option-1", settings=settings, source=FakeSource(MetricsUnavailableError("down"))
        )
    assert outcomes(settings) == []


# --- post_digest ------------------------------------------------------------------------------------


def test_digest_without_a_metrics_source_says_so(settings: WorkerSettings, slack: SlackStub) -> None:
    thread = store_thread(settings, plan=plan_dict())
    assert post_digest(thread, settings=settings)["posted"] == "not_configured"
    assert "No metrics source configured" in posted_text(slack)


def test_digest_with_prometheus_unreachable_gives_a_clear_message(
    settings: WorkerSettings, slack: SlackStub
) -> None:
    thread = store_thread(settings, plan=plan_dict())
    down = replace(settings, prometheus_url=closed_port_url())
    assert post_digest(thread, settings=down)["posted"] == "unavailable"
    text = posted_text(slack)
    assert "could not read the deployment's metrics" in text and "is not reachable" in text
    assert outcomes(settings) == []


def test_digest_of_a_window_without_traffic(settings: WorkerSettings, slack: SlackStub) -> None:
    thread = store_thread(settings, plan=plan_dict())
    idle = replace(
        observed(), ttft=LatencyStats(), itl=LatencyStats(), tpot=LatencyStats(), e2e=LatencyStats()
    )
    idle = replace(idle, requests_per_s=0.0)
    result = post_digest(thread, settings=settings, source=FakeSource(idle))
    assert result["posted"] == "digest" and result["has_traffic"] is False
    assert "no traffic in the last 1h" in posted_text(slack).lower()


def test_digest_without_series_points_at_the_scrape(settings: WorkerSettings, slack: SlackStub) -> None:
    thread = store_thread(settings, plan=plan_dict())
    post_digest(thread, settings=settings, source=FakeSource(observed(rps=None, series_found=False)))
    assert f'model_name=\\"{SERVED_NAME}\\"' in posted_text(slack) or SERVED_NAME in posted_text(slack)
    assert "no vLLM series" in posted_text(slack)


def test_digest_posts_observed_vs_predicted_and_enters_the_feedback_loop(
    settings: WorkerSettings, slack: SlackStub
) -> None:
    thread = store_thread(settings, plan=plan_dict())
    deploy_thread(settings, thread)
    slow = observed(ttft_p95_ms=700.0)  # misses the 500 ms TTFT target
    result = post_digest(thread, settings=settings, source=FakeSource(slow))
    assert result["posted"] == "digest" and result["slo_met"] is False
    text = posted_text(slack)
    assert "SLO missed at p95: TTFT" in text
    assert "700 ms" in text and "200 ms" in text and "+250%" in text and "✗" in text and "✓" in text
    assert status_of(settings, thread) == ThreadStatus.FEEDBACK_LOOP
    assert outcomes(settings) == []  # digests read; the hourly observation stores
    post_digest(thread, "1h", store=True, settings=settings, source=FakeSource(slow))
    assert len(outcomes(settings)) == 1


def test_digest_before_anything_was_chosen(settings: WorkerSettings, slack: SlackStub) -> None:
    thread = store_thread(settings, plan=plan_dict(), choose=False)
    assert (
        post_digest(thread, settings=settings, source=FakeSource(observed()))["posted"] == "nothing_deployed"
    )
    assert "Nothing to observe" in posted_text(slack)


@pytest.fixture
def worker_env(settings: WorkerSettings, slack: SlackStub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_scheduled_observation_stores_deployed_threads_only(
    settings: WorkerSettings,
    slack: SlackStub,
    worker_env: None,
    monkeypatch: pytest.MonkeyPatch,
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(busy_model))
    thread = store_thread(settings, plan=plan_dict())
    assert observe_all_deployments() == {}  # no metrics source
    monkeypatch.setenv("PROMETHEUS_URL", httpserver.url_for("/"))
    assert observe_all_deployments() == {}  # not deployed yet
    deploy_thread(settings, thread)
    assert observe_all_deployments() == {"plan-1-option-1": "stored"}
    assert observe_all_deployments() == {"plan-1-option-1": "stored"}
    (stored,) = outcomes(settings)
    assert len(stored.traffic_observed["observations"]) == 2 and stored.ttft_p90_ms == 300.0
    assert slack.of("chat.postMessage") == []
    monkeypatch.setenv("PROMETHEUS_URL", closed_port_url())
    assert observe_all_deployments() == {"plan-1-option-1": "failed"}


def test_scheduled_digests_cover_deployed_threads_only(
    settings: WorkerSettings, slack: SlackStub, worker_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = store_thread(settings, plan=plan_dict())
    assert post_all_digests() == {}  # no metrics source: nothing posted anywhere
    monkeypatch.setenv("PROMETHEUS_URL", closed_port_url())
    assert post_all_digests() == {}  # the thread is not deployed yet
    deploy_thread(settings, thread)
    assert post_all_digests() == {thread: "unavailable"}
    assert "is not reachable" in posted_text(slack)
