from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_cli(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_kb_help_lists_the_commands() -> None:
    code, out, _ = run("kb", "--help")
    assert code == 0
    assert "init" in out and "list" in out and "show" in out


@pytest.mark.slow
def test_init_twice_changes_nothing(isolated_env: str) -> None:
    code, out, _ = run("kb", "init", "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["seed_loaded"] is True and first["schema"] == {"before": None, "after": "0002"}
    assert first["counts"]["benchmarks"] == 398 + 5221
    code, out, _ = run("kb", "init")
    assert code == 0 and "schema up to date; seed unchanged" in out


@pytest.mark.parametrize(("kind", "minimum"), [("models", 30), ("gpus", 10), ("usecases", 10), ("costs", 20)])
def test_list_json_has_ids_and_sources(seeded_env: str, kind: str, minimum: int) -> None:
    code, out, err = run("kb", "list", kind, "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) >= minimum
    assert all(r["id"] and r["source"] for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_list_models_json_fields(seeded_env: str) -> None:
    rows = json.loads(run("kb", "list", "models", "--json")[1])
    llama = next(r for r in rows if r["id"] == "meta-llama/Llama-3.1-8B-Instruct")
    for field in (
        "params_total_b",
        "num_layers",
        "num_kv_heads",
        "head_dim",
        "max_context_tokens",
        "license",
        "quality",
    ):
        assert field in llama
    assert llama["num_layers"] == 32 and llama["num_kv_heads"] == 8


def test_list_benchmarks_all_rows_and_valid_json(seeded_env: str) -> None:
    code, out, _ = run("kb", "list", "benchmarks", "--json")
    assert code == 0
    rows = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert len(rows) == 398 + 5221
    assert all(r["source"] and r["scenario"] for r in rows)
    assert {r["source_set"] for r in rows} == {"serving_benchmarks", "aiconfigurator_measured"}
    assert any(r["request_rate"] == "inf" for r in rows)
    assert all(
        isinstance(r["request_rate"], str) or r["request_rate"] is None or math.isfinite(r["request_rate"])
        for r in rows
    )


def test_list_benchmarks_source_set_and_limit(seeded_env: str) -> None:
    code, out, _ = run(
        "kb", "list", "benchmarks", "--source-set", "aiconfigurator_measured", "--limit", "5", "--json"
    )
    rows = json.loads(out)
    assert code == 0 and len(rows) == 5 and {r["source_set"] for r in rows} == {"aiconfigurator_measured"}
    code, _, err = run("kb", "list", "benchmarks", "--source-set", "mlperf")
    assert code == 2 and "unknown source set 'mlperf'" in err
    code, _, err = run("kb", "list", "models", "--limit", "3")
    assert code == 2 and "apply to `kb list benchmarks` only" in err


def test_list_benchmarks_of_one_model_on_one_gpu_by_alias(seeded_env: str) -> None:
    code, out, _ = run("kb", "list", "benchmarks", "--model", "llama-3.1-70b", "--gpu", "h100", "--json")
    rows = json.loads(out)
    assert code == 0 and rows
    assert {(r["model_id"], r["gpu_id"]) for r in rows} == {("meta-llama/Llama-3.1-70B-Instruct", "H100-SXM")}
    code, _, err = run("kb", "list", "benchmarks", "--gpu", "h999")
    assert code == 2 and "unknown GPU 'h999'" in err


def test_list_table(seeded_env: str) -> None:
    code, out, _ = run("kb", "list", "gpus")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["id", "memory_gib"]
    assert any(line.startswith("H100-SXM") for line in lines)


def test_show_resolves_aliases(seeded_env: str) -> None:
    code, out, _ = run("kb", "show", "gpu", "h100-80gb", "--json")
    gpu = json.loads(out)
    assert code == 0 and gpu["id"] == "H100-SXM" and gpu["prices"]
    code, out, _ = run("kb", "show", "model", "Llama-3.1-8B-Instruct", "--json")
    model = json.loads(out)
    assert code == 0 and model["id"] == "meta-llama/Llama-3.1-8B-Instruct" and model["benchmark_rows"] > 0
    code, out, _ = run("kb", "show", "gpu", "A100")
    assert code == 0 and "A100" in out


@pytest.mark.parametrize(
    ("kind", "name", "label"), [("gpu", "H101", "GPU"), ("model", "Llama-3.1-8B-Instrct", "model")]
)
def test_show_unknown_name_exits_2_with_suggestions(
    seeded_env: str, kind: str, name: str, label: str
) -> None:
    code, out, err = run("kb", "show", kind, name)
    assert code == 2
    assert f"unknown {label} '{name}'; did you mean" in err
    assert out == ""


def test_show_unknown_name_without_close_matches_says_where_to_look(seeded_env: str) -> None:
    code, _, err = run("kb", "show", "model", "zzzz-unheard-of")
    assert code == 2
    assert "unknown model 'zzzz-unheard-of'; known models: CodeLlama-34b-Instruct-hf, DeepSeek-R1," in err
    assert "and 25 more; `predeploy kb list models` lists them all" in err
    code, _, err = run("predict", "--model", "llama-3.1-8b", "--gpu", "zz9", "--input-tokens", "5",
                       "--output-tokens", "5", "--rate", "1")  # fmt: skip
    assert code == 2
    assert (
        "unknown GPU 'zz9'; known GPUs: A10, A100-40GB," in err
        and "`predeploy kb list gpus` lists them all" in err
    )


def test_unreachable_database_exits_1_without_password(
    monkeypatch: pytest.MonkeyPatch, isolated_env: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://kb:hunter2@127.0.0.1:1/kb")
    code, _, err = run("kb", "list", "models")
    assert code == 1
    assert "hunter2" not in err and "127.0.0.1:1/kb" in err and "Traceback" not in err
