"""`python -m simulator` options (parsing only; serving is covered by the server and CLI tests)."""

from __future__ import annotations

import json

import pytest

from simulator.__main__ import config_from_args, main, parse_args
from simulator.config import DEFAULT_PROFILE


def test_vllm_flags_are_understood_or_ignored() -> None:
    args, unknown = parse_args(
        ["--model", "/mnt/models", "--served-model-name", "llama", "--port", "8080", "--max-num-seqs", "64",
         "--tensor-parallel-size", "2", "--gpu-memory-utilization=0.9"]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.model_name == "llama" and config.profile.max_num_seqs == 64
    assert unknown == ["--tensor-parallel-size", "2", "--gpu-memory-utilization=0.9"]


def test_inline_profile_and_default() -> None:
    args, _ = parse_args(["--profile-json", json.dumps({**DEFAULT_PROFILE.to_dict(), "block_size": 32})])
    assert config_from_args(args).profile.block_size == 32
    assert config_from_args(parse_args([])[0]).profile == DEFAULT_PROFILE


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--profile-json", "{x"], "not JSON"),
        (["--profile", "/nonexistent.json"], "cannot read profile"),
        (["--error-rate", "2"], "error rate"),
        (["--max-num-seqs", "0"], "max_num_seqs must be >= 1"),
    ],
)
def test_bad_options_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
