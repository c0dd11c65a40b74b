"""`predeploy render | deploy | undeploy` through Typer's CliRunner, against the Kubernetes API stub
(reached through a real kubeconfig file) and a health endpoint from pytest-httpserver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from bot.cli import build_cli
from deploy.validate import validate_objects
from tests.deploy.conftest import make_plan, option_dict
from tests.deploy.k8s_stub import KubeStub, failed_status, ready_status, write_kubeconfig

runner = CliRunner()
NAME = "llama-3-1-8b-instruct-h100-sxm-tp1"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(make_plan(option_dict(), option_dict(rank=2, replicas=1)).model_dump_json(indent=2))
    return path


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubeStub]:
    stub = KubeStub()
    url = stub.start()
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(url, tmp_path / "kubeconfig")))
    yield stub
    stub.stop()


def test_render_writes_one_valid_file_per_object(seeded_env: str, plan_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    prom = "http://prometheus.monitoring.svc:9090"
    args = ("--out", str(out), "-n", "team-a", "--keda", "--prometheus-url", prom)
    code, stdout, stderr = run("render", "--plan", str(plan_file), *args)
    assert code == 0, stderr
    files = sorted(out.iterdir())
    assert [f.name.split("-")[0] for f in files] == [
        "inferenceservice",
        "podmonitor",
        "scaledobject",
        "servingruntime",
    ]
    assert all(str(f) in stdout for f in files)
    bodies = [yaml.safe_load(f.read_text()) for f in files]
    assert validate_objects(bodies) == []
    assert {b["metadata"]["namespace"] for b in bodies} == {"team-a"}
    assert bodies[2]["spec"]["triggers"][0]["metadata"]["serverAddress"] == prom


def test_render_to_stdout_picks_the_option(seeded_env: str, plan_file: Path) -> None:
    code, stdout, stderr = run("render", "--plan", str(plan_file), "--option", "2", "--monitoring", "none")
    assert code == 0, stderr
    docs = list(yaml.safe_load_all(stdout))
    assert [d["kind"] for d in docs if d] == ["ServingRuntime", "InferenceService"]
    assert docs[-1]["spec"]["predictor"]["minReplicas"] == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "is not JSON (line 1"),
        ('{"options": 3}', "is not a plan as printed by `predeploy plan --json`"),
        (None, "cannot read the plan"),
    ],
)
def test_bad_plan_files_exit_2(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    code, _, stderr = run("render", "--plan", str(path))
    assert code == 2 and needle in stderr


def test_a_missing_option_exits_2(seeded_env: str, plan_file: Path) -> None:
    code, _, stderr = run("deploy", "--plan", str(plan_file), "--option", "9")
    assert code == 2 and "no option 9 (its options: 1, 2)" in stderr


def test_a_plan_without_serving_config_asks_to_replan(seeded_env: str, tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(make_plan(option_dict(serving=None)).model_dump_json())
    code, _, stderr = run("render", "--plan", str(path))
    assert code == 2 and "Re-plan" in stderr


@pytest.mark.parametrize("namespace", ["Team-A", "team a", 'x"\n  evil: true'])
def test_bad_namespaces_exit_2(seeded_env: str, plan_file: Path, namespace: str) -> None:
    code, _, stderr = run("render", "--plan", str(plan_file), "--namespace", namespace)
    assert code == 2 and "is not a valid Kubernetes name" in stderr


def test_deploy_without_a_cluster_prints_the_yaml_and_exits_1(
    seeded_env: str, plan_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    code, stdout, stderr = run("deploy", "--plan", str(plan_file))
    assert code == 1
    assert "no cluster to deploy to" in stderr and "predeploy render" in stderr
    assert [d["kind"] for d in yaml.safe_load_all(stdout) if d][:2] == ["ServingRuntime", "InferenceService"]


def test_an_unknown_context_exits_1(seeded_env: str, plan_file: Path, cluster: KubeStub) -> None:
    code, _, stderr = run("deploy", "--plan", str(plan_file), "--context", "prod-eu")
    assert code == 1 and "context 'prod-eu'" in stderr


def test_deploy_dry_run_changes_nothing(seeded_env: str, plan_file: Path, cluster: KubeStub) -> None:
    code, stdout, stderr = run("deploy", "--plan", str(plan_file), "--dry-run", "-n", "team-a")
    assert code == 0, stderr
    assert f"{NAME} in team-a: planned" in stdout and "InferenceService/" in stdout
    assert "[dry_run]" in stderr
    assert cluster.objects == {} and len(cluster.calls("PATCH", dry_run=True)) == 3


def test_deploy_then_redeploy_is_unchanged_then_undeploy(
    seeded_env: str, plan_file: Path, cluster: KubeStub, httpserver: HTTPServer
) -> None:
    url = httpserver.url_for("/").rstrip("/")
    cluster.script_status(NAME, [ready_status(url)])
    httpserver.expect_request("/health").respond_with_data("")
    httpserver.expect_request("/v1/models").respond_with_json({"data": [{"id": NAME}]})
    httpserver.expect_request("/v1/completions", method="POST").respond_with_json(
        {"choices": [{"text": "OK"}]}
    )

    code, stdout, stderr = run("deploy", "--plan", str(plan_file), "-n", "team-a")
    assert code == 0, stderr
    assert "applied" in stdout and f"url: {url}" in stdout
    assert "[ready]" in stderr and "[healthy]" in stderr

    code, stdout, stderr = run("deploy", "--plan", str(plan_file), "-n", "team-a")
    assert code == 0, stderr
    assert f"{NAME} in team-a: unchanged" in stdout and "[unchanged]" in stderr

    code, stdout, _ = run("undeploy", NAME, "-n", "team-a")
    assert code == 0 and f"deleted InferenceService/{NAME} in team-a" in stdout
    assert cluster.objects == {}
    code, stdout, _ = run("undeploy", NAME, "-n", "team-a")
    assert code == 0 and "nothing deleted" in stdout


def test_a_failed_deploy_exits_1_and_says_it_rolled_back(
    seeded_env: str, plan_file: Path, cluster: KubeStub
) -> None:
    cluster.script_status(NAME, [failed_status("ModelLoadFailed", "weights not found")])
    code, _, stderr = run("deploy", "--plan", str(plan_file), "--poll-interval", "0.01")
    assert code == 1
    assert "weights not found" in stderr and "Rolled back: deleted" in stderr
    assert cluster.objects == {}


def test_undeploy_refuses_bad_names(cluster: KubeStub) -> None:
    code, _, stderr = run("undeploy", "Bad Name")
    assert code == 2 and "not a valid Kubernetes name" in stderr
    assert cluster.requests == []


def _store_plan(result: dict) -> int:
    from bot.cli.common import open_session
    from kb import threads

    with open_session() as session:
        state = threads.get_or_create_thread(
            session=session, team_id="T1", channel_id="C1", thread_ts="1732790000.000100", user_id="U1"
        )
        threads.add_spec_version(
            session=session, thread_id=state.id, spec={"use_case": "chatbot"}, author="U1"
        )
        return threads.save_plan(session=session, thread_id=state.id, spec_version=1, result=result)


def test_render_a_plan_stored_by_a_thread(seeded_env: str) -> None:
    plan_id = _store_plan(make_plan(option_dict(), option_dict(rank=2)).model_dump(mode="json"))
    code, stdout, stderr = run("render", "--plan-id", str(plan_id), "--rank", "2")
    assert code == 0, stderr
    isvc = [d for d in yaml.safe_load_all(stdout) if d and d["kind"] == "InferenceService"][0]
    assert isvc["metadata"]["labels"]["predeploy.io/plan-id"] == f"plan-{plan_id}"
    assert isvc["metadata"]["labels"]["predeploy.io/option-rank"] == "2"
    assert "predeploy.io/thread-id" in isvc["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "either as --plan PLAN.json or as --plan-id N"),
        (("--plan", "x.json", "--plan-id", "1"), "either as --plan PLAN.json or as --plan-id N"),
        (("--plan-id", "999"), "no plan 999 is stored"),
    ],
)
def test_plan_source_errors_exit_2(seeded_env: str, args: tuple[str, ...], needle: str) -> None:
    code, _, stderr = run("render", *args)
    assert code == 2 and needle in stderr


@pytest.mark.slow
def test_every_option_of_a_real_plan_renders_valid_manifests(seeded_env: str, tmp_path: Path) -> None:
    code, stdout, stderr = run(
        "plan", "customer support chatbot for 2000 users", "--json", "--no-llm", "--top", "6"
    )
    assert code == 0, stderr
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(stdout)
    ranks = [o["rank"] for o in yaml.safe_load(stdout)["options"]]
    assert ranks, "the planner found no option for a plain chatbot"
    for rank in ranks:
        code, out, stderr = run("render", "--plan", str(plan_file), "--option", str(rank), "--keda")
        assert code == 0, stderr
        assert validate_objects([d for d in yaml.safe_load_all(out) if d]) == []


def test_an_unpinned_image_exits_2(seeded_env: str, plan_file: Path) -> None:
    code, _, stderr = run("render", "--plan", str(plan_file), "--vllm-image", "vllm/vllm-openai:latest")
    assert code == 2 and "never ':latest'" in stderr
