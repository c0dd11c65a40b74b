"""The simulator image's build steps, run without a Docker engine (there is none on CI machines).

The test reads `simulator/Dockerfile`, copies exactly what its COPY lines copy into an empty build
context, installs that (not editable: what `pip install .` in the image does), runs its seeding RUN
line with the image's environment, and starts its ENTRYPOINT: a file the image would miss (package
data, templates, migrations, the knowledge base's seed) fails here as it would in the cluster.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "simulator" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status, r.read().decode()


def _wait_ready(url: str, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the entrypoint exited ({proc.returncode}): {proc.communicate()[0][-2000:]}"
            )
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Build the image's file system the way the Dockerfile does; returns its paths and environment."""
    steps = _instructions()
    context = tmp_path_factory.mktemp("context")
    for word, args in steps:
        if word == "COPY":
            *sources, _dest = shlex.split(args)
            for src in sources:
                path = ROOT / src.rstrip("/")
                target = context / src.rstrip("/")
                if path.is_dir():
                    shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(path, target)
    site = tmp_path_factory.mktemp("site")
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    for word, args in steps:
        if word == "ENV":
            for key, value in (pair.split("=", 1) for pair in shlex.split(args)):
                env[key] = value.replace("/home/sim", str(home))
    env["HOME"] = str(home)
    # the installed copy first; the test venv supplies the dependencies the image would pip install
    env["PYTHONPATH"] = str(site)
    return {"steps": steps, "site": site, "home": home, "env": env}


def _run_line(image: dict[str, object]) -> list[str]:
    for word, args in image["steps"]:  # type: ignore[attr-defined]
        if word == "RUN" and args.startswith("python "):
            return [sys.executable, *shlex.split(args)[1:]]
    raise AssertionError("the Dockerfile no longer seeds the knowledge base with a `RUN python ...` line")


def _entrypoint(image: dict[str, object]) -> list[str]:
    for word, args in image["steps"]:  # type: ignore[attr-defined]
        if word == "ENTRYPOINT":
            cmd = json.loads(args)
            return [sys.executable, *cmd[1:]]
    raise AssertionError("the Dockerfile has no ENTRYPOINT")


@pytest.mark.slow
def test_the_image_installs_seeds_and_serves_from_its_own_copy(image: dict[str, object]) -> None:
    env, home, site = image["env"], image["home"], image["site"]
    seeded = subprocess.run(
        _run_line(image),
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # type: ignore[arg-type]
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert (Path(str(home)) / "predeploy.db").stat().st_size > 100_000  # the knowledge base is in the image

    where = subprocess.run(
        [sys.executable, "-c", "import simulator, kb, templates; print(simulator.__file__, kb.__file__)"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # type: ignore[arg-type]
    )
    assert where.returncode == 0 and str(site) in where.stdout, where.stdout + where.stderr

    port = _free_port()
    cmd = [a if a != "8080" else str(port) for a in _entrypoint(image)]
    cmd = [a if a != "0.0.0.0" else "127.0.0.1" for a in cmd] + ["--served-model-name", "sim-model"]
    proc = subprocess.Popen(
        cmd, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )  # type: ignore[arg-type]
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health", proc)
        status, body = _get(f"http://127.0.0.1:{port}/v1/models")
        assert status == 200 and json.loads(body)["data"][0]["id"] == "sim-model"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/completions",
            data=json.dumps({"model": "sim-model", "prompt": "hello", "max_tokens": 4}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            assert json.loads(r.read())["usage"]["completion_tokens"] == 4
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps it and closes its pipe


@pytest.mark.slow
def test_the_images_predeploy_simulate_takes_its_profile_from_the_built_in_knowledge_base(
    image: dict[str, object],
) -> None:
    env, home = image["env"], image["home"]
    port = _free_port()
    cmd = [
        sys.executable,
        "-c",
        "from bot.cli import main; main()",
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )  # type: ignore[arg-type]
    try:
        _wait_ready(f"http://127.0.0.1:{port}/health", proc)
        status, body = _get(f"http://127.0.0.1:{port}/v1/models")
        assert status == 200 and json.loads(body)["data"][0]["id"] == "llama-3.1-8b"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps it and closes its pipe
