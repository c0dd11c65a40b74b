"""Load and save the performance model's fitted parameters (`kb/data/calibration.json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from planner.perf_params import PerfParams, default_params

CALIBRATION_PATH = Path(__file__).resolve().parent / "data" / "calibration.json"


def load_params(path: Path | None = None) -> PerfParams:
    """The fitted parameters, or the PERF_FACTS priors when no calibration file exists."""
    path = path or CALIBRATION_PATH
    if not path.exists():
        return default_params()
    doc = json.loads(path.read_text(encoding="utf-8"))
    return PerfParams.from_dict(doc.get("params", {}))


def save_params(
    params: PerfParams, *, report: dict[str, Any] | None = None, path: Path | None = None
) -> Path:
    """Write the parameters (with their fit information and an optional report) as JSON."""
    path = path or CALIBRATION_PATH
    doc = {
        "about": "Fitted by `predeploy calibrate` from the knowledge base's benchmark rows; "
        "data_version is the sha256 of the rows used.",
        "params": params.to_dict(),
        "report": report or {},
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
