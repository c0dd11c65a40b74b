"""The bot's calls into the planning pipeline: plan a spec, and compare a what-if with an option."""

from __future__ import annotations

from typing import Any

from planner.catalog import Catalog
from planner.errors import PlannerError
from planner.plan import PlanResult
from planner.spec import DeploymentSpec


def run_pipeline(spec: DeploymentSpec, catalog: Catalog, *, params: Any, progress: Any) -> PlanResult:
    raise PlannerError("planning is not available yet")


def compare_option(
    base: PlanResult, rank: int, changes: dict[str, Any], catalog: Catalog, *, params: Any
) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    raise PlannerError("what-if is not available yet")
