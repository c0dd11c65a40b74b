"""Simulator mode end to end: the runtime arguments a simulator render puts in the ServingRuntime
start the real `predeploy simulate`, and a deploy through the Kubernetes API stub health-checks it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.apply import ApplyOptions, Deployer
from deploy.health import HealthSettings
from deploy.render import RenderSettings, render
from tests.deploy.conftest import gpu_by_id, make_plan, option_dict
from tests.deploy.k8s_stub import ready_status

PREDEPLOY = Path(sys.executable).with_name("predeploy")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"predeploy simulate exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("predeploy simulate did not answer /health in time")


@pytest.mark.slow
def test_simulator_render_starts_the_simulator_and_passes_the_health_check(
    kube, seeded_env: str, tmp_path: Path
) -> None:
    stub, api = kube
    plan = make_plan(option_dict(tensor_parallel=2, gpu_count=2, replicas=1))
    rendered = render(
        plan,
        option_rank=1,
        gpu=gpu_by_id("H100-SXM"),
        settings=RenderSettings(namespace="sim", simulator_image="predeploy:dev"),
    )
    container = rendered.manifests[0].body["spec"]["containers"][0]
    port = _free_port()
    args = [
        a.replace("0.0.0.0", "127.0.0.1").replace("--port=8080", f"--port={port}") for a in container["args"]
    ]
    assert container["command"] == ["predeploy", "simulate"]
    env = os.environ | {"DATABASE_URL": seeded_env}
    log = tmp_path / "simulate.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(PREDEPLOY), "simulate", *args], env=env, stdout=sink, stderr=sink)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, proc, log)
        stub.script_status(rendered.name, [ready_status(url)])
        options = ApplyOptions(poll_interval_s=0.01, health=HealthSettings(attempts=3, retry_interval_s=0.2))
        result = Deployer(api, options=options).deploy(rendered)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.ready and len(result.health) == 3
    assert f"serves {rendered.served_model_name}" in result.health[1]
