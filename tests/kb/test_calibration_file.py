"""kb/calibration.py: the fitted parameters round-trip through JSON; no file means the priors."""

from __future__ import annotations

import json
from dataclasses import replace

from kb.calibration import CALIBRATION_PATH, load_params, save_params
from planner.perf_params import default_params


def test_missing_file_gives_the_priors(tmp_path):
    assert load_params(tmp_path / "none.json") == default_params()


def test_save_then_load_round_trips(tmp_path):
    p = replace(
        default_params(),
        tp_loss=0.11,
        mbu={**default_params().mbu, "hopper": 0.7},
        fit_info={"data_version": "abc", "rows": 3},
    )
    path = save_params(p, path=tmp_path / "c.json")
    assert json.loads(path.read_text())["params"]["fit_info"]["data_version"] == "abc"
    assert load_params(path) == p


def test_shipped_calibration_carries_its_data_version_and_errors():
    params = load_params(CALIBRATION_PATH)
    assert len(params.fit_info["data_version"]) == 64
    assert params.fit_info["rows"] > 1000
    assert set(params.fit_info["in_sample_error"]) >= {"ttft_ms", "itl_tpot_ms", "max_throughput_tok_s"}
    # `predeploy calibrate` also measures the held-out error that predictions quote
    held_out = params.fit_info["held_out_error"]
    assert set(held_out) >= {"ttft_ms", "itl_tpot_ms", "e2e_ms", "max_throughput_tok_s"}
    assert all(0 < s["median_pct"] <= s["p90_pct"] for s in held_out.values())
