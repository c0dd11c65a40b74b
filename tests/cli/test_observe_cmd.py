"""`predeploy observe` against a loopback Prometheus API, and `predeploy outcomes` on a seeded database."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from bot.cli import build_cli
from tests.workers.outcome_fixtures import GPU, MODEL_ID, plan_dict
from tests.workers.test_prometheus import answer, busy_model, idle_model

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(build_cli(), list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    # predicted p95 TTFT 200 ms; the busy model shows 420 ms against a 500 ms target
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_dict()))
    return path


@pytest.fixture
def prometheus(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(busy_model))
    return httpserver.url_for("/")


def test_observe_needs_a_metrics_source() -> None:
    code, out = run("observe", "--model-name", "llama", env={"PROMETHEUS_URL": ""})
    assert code == 2 and "no metrics source configured" in out


def test_observe_prints_percentiles_and_load(prometheus: str) -> None:
    code, out = run("observe", "--prometheus", prometheus, "--model-name", "llama", "--window", "30m")
    assert code == 0, out
    assert "llama, last 30m:" in out
    assert "TTFT  p50=120.0 ms  p90=300.0 ms  p95=420.0 ms  p99=900.0 ms  mean=150.0 ms" in out
    assert "2.5 req/s" in out and "KV cache peak 61.0 %" in out


def test_observe_reads_the_url_from_the_environment(prometheus: str) -> None:
    code, out = run("observe", "--model-name", "llama", env={"PROMETHEUS_URL": prometheus})
    assert code == 0 and "TTFT" in out


def test_observe_compares_with_a_plan(prometheus: str, plan_file: Path) -> None:
    code, out = run("observe", "--prometheus", prometheus, "--model-name", "llama", "--plan", str(plan_file))
    assert code == 0, out
    assert f"Against option 1 of {plan_file}:" in out
    ttft = next(line for line in out.splitlines() if line.startswith("TTFT "))
    assert "420 ms" in ttft and "200 ms" in ttft and "+110%" in ttft and "500 ms" in ttft and "✓" in ttft
    assert "note: p95 TTFT lies in the 250 ms–500 ms histogram bucket" in out


def test_observe_json(prometheus: str, plan_file: Path) -> None:
    code, out = run(
        "observe", "--prometheus", prometheus, "--model-name", "llama", "--plan", str(plan_file), "--json"
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["observed"]["ttft"]["p95_ms"] == 420.0
    assert data["comparison"]["ttft"]["met"] is True and data["comparison"]["percentile"] == "p95"
    assert data["comparison"]["notes"]


def test_observe_without_traffic(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(idle_model))
    code, out = run("observe", "--prometheus", httpserver.url_for("/"), "--model-name", "llama")
    assert code == 0 and "no traffic in the last 1h" in out


def test_observe_unknown_model(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(answer(lambda q: []))
    code, out = run("observe", "--prometheus", httpserver.url_for("/"), "--model-name", "typo")
    assert code == 0 and "no vLLM series for typo" in out


def test_observe_unreachable_prometheus_exits_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, out = run("observe", "--prometheus", url, "--model-name", "llama")
    assert code == 1 and "is not reachable" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "an hour"], "not a Prometheus duration"),
        (["--plan", "missing.json"], "cannot read the plan"),
        (["--option", "3"], "has no option 3 (options: 1)"),
    ],
)
def test_observe_bad_input_exits_2(prometheus: str, plan_file: Path, args: list[str], message: str) -> None:
    if "--option" in args:
        args = [*args, "--plan", str(plan_file)]
    code, out = run("observe", "--prometheus", prometheus, "--model-name", "llama", *args)
    assert code == 2 and message in out


def test_observe_a_file_that_is_not_a_plan(prometheus: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"options": 3}')
    code, out = run("observe", "--prometheus", prometheus, "--model-name", "llama", "--plan", str(bad))
    assert code == 2 and "is not a plan" in out
    bad.write_text("{")
    code, out = run("observe", "--prometheus", prometheus, "--model-name", "llama", "--plan", str(bad))
    assert code == 2 and "is not JSON" in out


def test_outcomes_when_none_are_stored(seeded_env: str) -> None:
    code, out = run("outcomes")
    assert code == 0 and "No deployment outcomes stored yet" in out
    code, out = run("outcomes", "--json")
    assert json.loads(out) == {"outcomes": [], "corrections": []}


def test_outcomes_list_and_corrections(seeded_env: str) -> None:
    from sqlalchemy.orm import Session

    from kb.repository import save_outcome
    from kb.session import make_engine
    from planner.types import DeploymentOutcome

    log = [{"at": "2026-11-01T00:00:00+00:00", "window_s": 86400, "requests": 5000, "ratios": {"ttft": 1.5}}]
    engine = make_engine(seeded_env)
    with Session(engine) as session, session.begin():
        for i in range(3):
            save_outcome(
                session=session,
                outcome=DeploymentOutcome(
                    deployment_id=f"plan-{i}-option-1",
                    model_id=MODEL_ID,
                    gpu_type=GPU,
                    gpu_count=1,
                    deployed_at=datetime(2026, 11, 1, tzinfo=UTC),
                    observation_period_days=1,
                    ttft_p90_ms=300.0,
                    slo_compliance={"met": True},
                    traffic_observed={"observations": log},
                ),
            )
    engine.dispose()
    code, out = run("outcomes")
    assert code == 0, out
    assert out.count("plan-") == 3 and "met" in out
    assert "corrected by +" in out and "TTFT from 3 observed deployments of this model on H100-SXM" in out
    code, out = run("outcomes", "--json")
    data = json.loads(out)
    assert len(data["outcomes"]) == 3 and data["outcomes"][0]["windows"] == 1
    (c,) = data["corrections"]
    assert (
        c["model_id"] == MODEL_ID and 1.0 < c["ttft"] < 1.5 and c["itl"] == 1.0 and c["scope"] == "model×GPU"
    )
