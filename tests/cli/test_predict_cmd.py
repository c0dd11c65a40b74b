"""`predeploy predict` (single and batch) against the seeded knowledge base."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli

BASE = [
    "predict",
    "--model",
    "meta-llama/Llama-3.1-8B-Instruct",
    "--gpu",
    "H100",
    "--input-tokens",
    "512",
    "--output-tokens",
    "128",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    db = tmp_path_factory.mktemp("kb") / "kb.sqlite"
    runner, app = CliRunner(), build_cli()

    def invoke(*args: str):
        return runner.invoke(app, list(args), env={"DATABASE_URL": f"sqlite:///{db}"})

    return invoke


@pytest.mark.parametrize(
    "mode", [["--concurrency", "8"], ["--rate", "2", "--arrival", "constant"], ["--max-throughput"]]
)
def test_predict_json_has_the_contract_keys(run, mode):
    r = run(*BASE, *mode, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
        assert set(doc[key]) == {"mean", "p50", "p90", "p95", "p99"}
    assert doc["fits"] is True and doc["saturated"] is False and doc["kv_cache_tokens"] > 0


def test_unknown_gpu_exits_2_with_close_matches(run):
    r = run(
        "predict",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "H10",
        "--input-tokens",
        "5",
        "--output-tokens",
        "5",
        "--rate",
        "1",
    )
    assert r.exit_code == 2
    assert "unknown GPU" in r.output


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--concurrency", "0"], "a closed loop needs a concurrency of 1 or more, got 0"),  # not "give one"
        (["--rate", "1", "--precision", "fp9"], "unknown precision 'fp9'; use one of bf16, fp16, fp8"),
        (["--rate", "1", "--engine", "trt"], "unknown engine 'trt'; use one of vllm, tensorrt-llm"),
        (["--rate", "1", "--tp", "3"], "its 32 attention heads do not split evenly over 3 GPUs"),
    ],
)
def test_bad_flags_say_what_was_wrong_and_what_to_use(run, extra, says):
    r = run(*BASE, *extra)
    assert r.exit_code != 0 and says in " ".join(r.output.split()), r.output
    if "--tp" in extra:
        assert "Use --tp 1, 2, 4 or 8." in " ".join(r.output.split())


def test_batch_answers_every_line_and_carries_ids(run, tmp_path):
    q = {"model": "llama 3.1 8b", "gpu": "h100", "input_tokens": 512, "output_tokens": 128}
    lines = [
        json.dumps({**q, "id": "a", "concurrency": 4}),
        "not json",
        json.dumps({**q, "id": "c", "rate": -1}),
        json.dumps({**q, "id": "d", "gpus": 2, "tp": 1, "max_throughput": True}),
    ]
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = run("predict", "--batch", str(f))
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "c", "d"]
    assert "error" in out[1] and "error" in out[2]
    assert out[3]["replicas"] == 2 and out[3]["output_tokens_per_s"] > 0


def test_a_batch_line_with_a_bad_value_says_which_and_what_to_give(run, tmp_path):
    q = {"model": "llama 3.1 8b", "gpu": "h100", "input_tokens": 512, "output_tokens": 128}
    lines = [
        json.dumps({**q, "rate": "fast"}),
        json.dumps({**q, "rate": 2, "arrival": "bursty"}),
        json.dumps({**q, "rate": 2, "arrival": "Constant"}),
    ]
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(lines) + "\n")
    out = [json.loads(line) for line in run("predict", "--batch", str(f)).stdout.splitlines()]
    assert out[0]["error"] == "rate must be a number, got 'fast'"
    assert out[1]["error"] == "unknown arrival 'bursty'; use poisson or constant"
    assert "error" not in out[2] and out[2]["requests_per_s"] > 0


@pytest.mark.slow
def test_validate_reports_held_out_errors_and_kv_tokens(run):
    r = run("validate", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    for split in ("leave_one_source_out", "leave_one_gpu_out"):
        assert doc[split]["itl_tpot_ms"]["rows"] > 1000
        assert doc[split]["max_throughput_tok_s"]["rows"] > 100
    assert doc["kv_cache_tokens"]["rows"] > 20 and doc["kv_cache_tokens"]["median_pct"] < 10


@pytest.mark.parametrize(
    ("model", "gpu", "precision", "says"),
    [
        ("qwen2.5-7b", "MI300X", "int4", "no AWQ, GPTQ or W8A8 kernels on AMD GPUs"),
        ("gpt-oss-120b", "H100", "bf16", "serves it at int4 only"),
    ],
)
def test_a_configuration_vllm_cannot_serve_is_predicted_and_says_so(run, model, gpu, precision, says):
    common = ["--input-tokens", "512", "--output-tokens", "128", "--rate", "1", "--json"]
    r = run("predict", "--model", model, "--gpu", gpu, "--precision", precision, *common)
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("the planner does not offer this") and says in n for n in notes)
    fine = run("predict", "--model", "llama-3.1-8b", "--gpu", "H100", "--precision", "fp8", *common)
    assert not any("does not offer" in n for n in json.loads(fine.stdout)["notes"])
