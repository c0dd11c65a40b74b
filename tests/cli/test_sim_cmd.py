"""`predeploy simulate` and `predeploy loadtest` through Typer's CliRunner (and one real process)."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import build_cli
from simulator.config import DEFAULT_PROFILE, LatencyProfile, ServerConfig
from simulator.loadstats import PERCENTILE_KEYS, REPORT_KEYS
from simulator.server import serve

runner = CliRunner()
FAST = LatencyProfile(**{**DEFAULT_PROFILE.to_dict(), "step_overhead_ms": 1.0, "weights_read_ms": 4.0})


@pytest.fixture
def sim_url() -> Iterator[str]:
    """A simulator on an ephemeral port, served from a thread with its own event loop."""
    ready = threading.Event()
    port: list[int] = []
    loop = asyncio.new_event_loop()
    config = ServerConfig(model_name="sim-m", profile=FAST)
    task = loop.create_task(
        serve(config, host="127.0.0.1", port=0, on_ready=lambda p: (port.append(p), ready.set()))
    )
    thread = threading.Thread(target=lambda: loop.run_until_complete(asyncio.wait([task])), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"http://127.0.0.1:{port[0]}"
    loop.call_soon_threadsafe(task.cancel)
    thread.join(10)
    loop.close()


def invoke(*args: str) -> object:
    return runner.invoke(build_cli(), list(args))


def test_print_profile_from_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(FAST.to_dict()))
    result = invoke("simulate", "--profile", str(path), "--print-profile")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert json.loads(result.stdout) == FAST.to_dict()  # type: ignore[attr-defined]


def test_profile_from_the_performance_model(seeded_env: str) -> None:
    result = invoke("simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--print-profile")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    prof = LatencyProfile(**json.loads(result.stdout))  # type: ignore[attr-defined]
    assert prof.kv_cache_tokens > 100_000 and 1 < prof.weights_read_ms < 20
    bigger = invoke("simulate", "--model", "llama-3.1-70b", "--gpu", "h100", "--tp", "4", "--print-profile")
    assert json.loads(bigger.stdout)["weights_read_ms"] > prof.weights_read_ms  # type: ignore[attr-defined]


def test_served_context_is_the_models(seeded_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli.sim_cmd as sim_cmd
    import simulator.server

    seen = {}

    async def fake_serve(config: ServerConfig, **kw: object) -> None:
        seen["config"] = config

    monkeypatch.setattr(simulator.server, "serve", fake_serve)
    result = invoke("simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--port", "0")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    config = seen["config"]
    assert isinstance(config, ServerConfig) and config.model_name == "llama-3.1-8b"
    assert config.context_limit == sim_cmd.DEFAULT_MAX_MODEL_LEN  # Llama 3.1's 128k context, capped


@pytest.mark.parametrize(
    "args,message",
    [
        (["--gpu", "h100"], "give --model and --gpu"),
        (["--model", "lama-3.1-8b", "--gpu", "h100"], "unknown model"),
        (["--model", "llama-3.1-8b", "--gpu", "h100", "--precision", "fp3"], "unknown precision"),
        (["--model", "llama-3.1-70b", "--gpu", "l4"], "does not fit"),
        (["--profile", "/nonexistent.json"], "cannot read profile"),
    ],
)
def test_simulate_errors(seeded_env: str, args: list[str], message: str) -> None:
    result = invoke("simulate", *args, "--print-profile")
    assert result.exit_code == 2
    assert message in result.stderr  # type: ignore[attr-defined]


def test_loadtest_json_has_the_predict_keys(sim_url: str) -> None:
    result = invoke(
        "loadtest", "--url", sim_url, "--model", "sim-m", "--input-tokens", "32", "--output-tokens", "4",
        "--rate", "30", "--poisson", "--duration", "0.5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert tuple(out) == REPORT_KEYS and tuple(out["itl_ms"]) == PERCENTILE_KEYS
    assert out["requests"] > 5 and out["errors"] == 0


def test_loadtest_human_table_chat(sim_url: str) -> None:
    result = invoke(
        "loadtest", "--url", sim_url, "--model", "sim-m", "--input-tokens", "16", "--output-tokens", "3",
        "--concurrency", "2", "--duration", "0.3", "--endpoint", "chat",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "TTFT" in result.stdout and "requests/s" in result.stdout  # type: ignore[attr-defined]


def test_loadtest_sweep_json(sim_url: str) -> None:
    result = invoke(
        "loadtest", "--url", sim_url, "--model", "sim-m", "--input-tokens", "16", "--output-tokens", "3",
        "--sweep", "--sweep-points", "1", "--max-concurrency", "4", "--duration", "0.25", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    points = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert [p["stage"].split("@")[0] for p in points] == ["synchronous", "throughput", "constant"]
    assert all(set(REPORT_KEYS) <= set(p) for p in points)
    assert points[0]["concurrency"] == 1 and points[1]["concurrency"] == 4 and points[2]["rate_per_s"] > 0


def test_loadtest_all_failing_exits_1(sim_url: str) -> None:
    result = invoke(
        "loadtest", "--url", sim_url, "--model", "other", "--input-tokens", "8", "--output-tokens", "2",
        "--concurrency", "1", "--duration", "0.2", "--max-requests", "2",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "does not exist" in result.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "extra,message",
    [
        ([], "exactly one of"),
        (["--rate", "1", "--concurrency", "2"], "exactly one of"),
        (["--concurrency", "2", "--poisson"], "--poisson goes with --rate"),
        (["--rate", "1", "--endpoint", "embeddings"], "unknown endpoint"),
        (["--rate", "-1"], "rate must be"),
        (["--rate", "1", "--url", "127.0.0.1:1"], "URL must look like"),
        (["--rate", "5", "--url", "http://127.0.0.1:9"], "cannot reach"),
    ],
)
def test_loadtest_usage_errors(extra: list[str], message: str) -> None:
    base = [
        "loadtest",
        "--url",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--input-tokens",
        "8",
        "--output-tokens",
        "2",
    ]
    result = invoke(*base, "--duration", "0.2", *extra)
    assert result.exit_code == 2
    assert message in result.stderr  # type: ignore[attr-defined]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def test_simulate_serves_from_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(FAST.to_dict()))
    cli = ["simulate", "--profile", str(path), "--port", "0", "--served-model-name", "proc-m"]
    cmd = [sys.executable, "-c", "from bot.cli import main; main()", *cli, "--startup-delay-s", "0.3"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "predeploy simulate printed nothing in 60 s"
        line = proc.stderr.readline()
        assert "serving 'proc-m' on http://127.0.0.1:" in line, line
        base = line.split(" on ")[1].split()[0]
        assert _status(f"{base}/health") == 503  # still "loading"
        statuses = []
        for _ in range(50):
            statuses.append(_status(f"{base}/health"))
            if statuses[-1] == 200:
                break
            threading.Event().wait(0.05)
        assert statuses[-1] == 200
        with urllib.request.urlopen(f"{base}/v1/models", timeout=5) as resp:
            assert json.load(resp)["data"][0]["id"] == "proc-m"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
