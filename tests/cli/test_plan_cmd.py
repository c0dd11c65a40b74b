"""`predeploy extract | plan | compare` against the seeded knowledge base (real catalog)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli

TEXT = "support chatbot for 1000 users on H100, latency matters"


@pytest.fixture
def run(seeded_env, monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    runner, app = CliRunner(), build_cli()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_extract_json_has_the_contract_keys_and_says_rules_on_stderr(run):
    r = run("extract", "--no-llm", "--json", TEXT)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {
        "use_case",
        "user_count",
        "priorities",
        "preferred_gpu_types",
        "preferred_models",
        "experience_class",
        "domain",
        "traffic",
        "slo",
        "questions",
    } <= set(doc)
    assert doc["preferred_gpu_types"] == ["H100-SXM"] and doc["priorities"]["latency"] == "high"
    assert "rule-based" in r.stderr


def test_extract_human_output_names_the_extractor(run):
    r = run("extract", "translation for 300 users")
    assert r.exit_code == 0, r.output
    assert "rule-based extractor (OLLAMA_HOST is not set)" in r.stdout
    assert "translation" in r.stdout and "300" in r.stdout


def test_extract_batch_one_line_per_input_errors_on_their_own_line(run, tmp_path):
    f = tmp_path / "in.jsonl"
    f.write_text(
        "\n".join(
            [
                json.dumps({"id": "x", "message": "translation for 300 users", "history": []}),
                json.dumps(
                    {"id": "y", "message": "make it 600 users", "history": ["translation for 300 users"]}
                ),
                "not json",
                json.dumps({"id": "z", "message": ""}),
            ]
        )
    )
    r = run("extract", "--no-llm", "--batch", str(f))
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row.get("id") for row in rows] == ["x", "y", None, "z"]
    assert rows[1]["user_count"] == 600 and "error" in rows[2] and "error" in rows[3]


def test_plan_json_contract_and_chart(run, tmp_path):
    png = tmp_path / "plan.png"
    r = run("plan", "--no-llm", "--json", "--plot", str(png), "support chatbot for 1000 users", "--top", "3")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {"spec", "options", "infeasible", "questions"} <= set(doc)
    assert 1 <= len(doc["options"]) <= 3
    o = doc["options"][0]
    assert {
        "rank",
        "model_id",
        "gpu_type",
        "gpu_count",
        "tensor_parallel",
        "replicas",
        "precision",
        "predicted",
        "cost_per_month_usd",
        "meets_slo",
        "pareto",
        "score",
        "explanation",
    } <= set(o)
    assert {"ttft_ms", "tpot_ms", "e2e_ms", "throughput_rps", "max_qps"} <= set(o["predicted"])
    assert o["gpu_count"] == o["tensor_parallel"] * o["replicas"] and o["meets_slo"] is True
    assert o["predicted"]["ttft_ms"] <= doc["spec"]["slo"]["ttft_ms"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_flags_restrict_and_override(run):
    r = run(
        "plan",
        "--no-llm",
        "--json",
        "chatbot",
        "--users",
        "5000",
        "--gpu",
        "A100",
        "--ttft-ms",
        "800",
        "--priority",
        "cost",
        "--max-gpus",
        "64",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["spec"]["user_count"] == 5000 and doc["spec"]["slo"]["ttft_ms"] == 800
    assert doc["spec"]["priorities"]["cost"] == "high"
    assert {o["gpu_type"] for o in doc["options"]} == {"A100-80GB"}


def test_plan_table_by_default(run):
    r = run("plan", "--no-llm", "code completion for 200 developers")
    assert r.exit_code == 0, r.output
    assert "p95 TTFT" in r.stdout and "1. " in r.stdout


def test_nothing_meets_the_slo_exits_0_and_says_what_to_relax(run):
    r = run("plan", "--no-llm", "--json", "chatbot for 1000 users", "--ttft-ms", "1")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["options"] == [] and doc["relax"].startswith("relax") and doc["closest"]["model_id"]
    human = run("plan", "--no-llm", "chatbot for 1000 users", "--ttft-ms", "1")
    assert "No option meets the SLO" in human.stdout and "relax" in human.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "--no-llm", ""], "empty"),
        (["plan", "--no-llm", "chatbot for 10^12 users"], "100,000,000"),
        (["plan", "--no-llm", "chatbot", "--qps", "-3"], "qps"),
        (["plan", "--no-llm", "chatbot", "--ttft-ms", "0"], "ttft_ms"),
        (["plan", "--no-llm", "chatbot", "--gpu", "H1000"], "did you mean"),
        (["plan", "--no-llm", "chatbot", "--model", "llama-9000"], "unknown model"),
        (["compare", "--no-llm", "chatbot", "--vs", "colour=red"], "unknown what-if key"),
        (["compare", "--no-llm", "chatbot", "--vs", "gpu"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_a_suggestion(run, args, needle):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "Traceback" not in r.output


def test_compare_json_and_table(run):
    r = run(
        "compare",
        "--no-llm",
        "--json",
        "support chatbot for 1000 users",
        "--vs",
        "gpu=A100-80GB",
        "--vs",
        "ttft_ms=200",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [s["label"] for s in doc["scenarios"]] == ["gpu=A100-80GB", "ttft_ms=200"]
    assert doc["scenarios"][0]["best"]["gpu_type"] == "A100-80GB"
    assert "cost_per_month_usd" in doc["scenarios"][0]["diff"]
    table = run("compare", "--no-llm", "support chatbot for 1000 users", "--vs", "users=5000")
    assert table.exit_code == 0 and "users=5000" in table.stdout and "base" in table.stdout


def test_llm_is_used_when_ollama_host_is_set_and_falls_back_when_unreachable(run):
    r = run("extract", "--json", "translation for 300 users", env={"OLLAMA_HOST": "http://127.0.0.1:9"})
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["extractor"]["source"] == "rules" and "unreachable" in doc["extractor"]["fallback_reason"]
    assert "LLM unreachable" in r.stderr


def test_extract_through_a_loopback_ollama(run, httpserver):
    answer = json.dumps({"use_case": "translation", "user_count": 300, "preferred_gpu_types": ["A100"]})
    httpserver.expect_request("/api/chat", method="POST").respond_with_json(
        {"model": "llama3.1:8b", "message": {"role": "assistant", "content": answer}, "done": True}
    )
    r = run("extract", "--json", "translation for 300 users", env={"OLLAMA_HOST": httpserver.url_for("/")})
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["extractor"]["source"] == "llm" and doc["preferred_gpu_types"] == ["A100-80GB"]
    assert "extracted by the LLM" in r.stderr
    assert run(
        "extract",
        "--no-llm",
        "--json",
        "translation for 300 users",
        env={"OLLAMA_HOST": httpserver.url_for("/")},
    ).stderr.startswith("intent: rule-based")


def test_a_plan_shows_a_middle_option_between_the_cheapest_and_the_most_accurate(run):
    """The search also sizes a few models along the cost/quality frontier, so a batch job at 69 req/s
    is offered more than a 1B model and the most accurate one (the real catalog)."""
    r = run("plan", "classify 2 million support tickets overnight", "--top", "10", "--json")
    assert r.exit_code == 0, r.output
    options = json.loads(r.stdout)["options"]
    cheapest = min(options, key=lambda o: o["cost_per_month_usd"])
    dearest = max(options, key=lambda o: o["cost_per_month_usd"])
    middle = [
        o
        for o in options
        if cheapest["cost_per_month_usd"] < o["cost_per_month_usd"] < dearest["cost_per_month_usd"]
        and o["model_id"] not in (cheapest["model_id"], dearest["model_id"])
    ]
    assert len(options) >= 4 and middle
