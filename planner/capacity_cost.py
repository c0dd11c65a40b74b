"""A sized combination and its arithmetic: replicas with headroom, the provider's price, the monthly
cost, and the max_gpus and budget checks (pure). `planner.capacity` does the search that fills it in."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner.catalog import Catalog
from planner.spec import DeploymentSpec
from planner.types import GpuPrice, GpuSpec, ModelSpec, Precision

HEADROOM = 0.2  # each replica is planned at 80% of the highest rate at which it still holds the SLO
# Quality lost to quantisation, as a fraction of 1 (published FP8 evals: within ~0.5 point; INT4 ~1-3).
QUALITY_COST = {Precision.FP8: 0.005, Precision.INT8: 0.01, Precision.INT4: 0.03}


@dataclass(frozen=True)
class Sized:
    """One model × GPU × precision × TP, sized for the spec (or the reason it cannot be)."""

    model: ModelSpec
    gpu: GpuSpec
    precision: Precision
    tp: int
    quality: float
    price: GpuPrice | None
    replicas: int = 0
    rate_per_replica_rps: float = 0.0
    exact: bool = False  # rate from max_rate_under_slo (True) or the screening bound (False)
    reason: str = ""  # empty when feasible
    kv_cache_tokens: int = 0
    floor_ttft_ms: float = 0.0  # a lone request's prefill: no load can make TTFT shorter
    floor_tpot_ms: float = 0.0  # a lone request's decode step: no load can make TPOT shorter
    likely_cost_usd: float = math.inf  # screening's realistic guess of the monthly cost (ordering only)

    @property
    def feasible(self) -> bool:
        return not self.reason

    @property
    def gpu_count(self) -> int:
        return self.tp * self.replicas

    @property
    def cost_per_month_usd(self) -> float:
        return self.gpu_count * self.price.monthly_usd_per_gpu if self.price else math.inf

    @property
    def max_qps(self) -> float:
        return self.replicas * self.rate_per_replica_rps


def cheapest_price(spec: DeploymentSpec, catalog: Catalog, gpu_id: str) -> GpuPrice | None:
    """Cheapest on-demand price of a GPU, at the spec's provider and region when pinned."""
    rows = catalog.prices_for(gpu_id, spec.provider)
    return next((p for p in rows if not spec.region or p.region == spec.region), None)


def replicas_for(peak_qps: float, rate_rps: float) -> int:
    """Fewest replicas that carry the peak with HEADROOM to spare (0 when the rate is 0)."""
    return max(1, math.ceil(peak_qps / (rate_rps * (1 - HEADROOM)))) if rate_rps > 0 else 0


def constraint_reason(spec: DeploymentSpec, *, replicas: int, tp: int, monthly_usd: float) -> str:
    """Why a sized combination breaks max_gpus or the budget, or ''."""
    if spec.max_gpus and replicas * tp > spec.max_gpus:
        what = f"{replicas} replica{'s' if replicas != 1 else ''} × {tp} GPU{'s' if tp != 1 else ''}"
        return f"needs {what} = {replicas * tp}, more than max_gpus={spec.max_gpus}"
    if spec.budget_usd_month and monthly_usd > spec.budget_usd_month:
        return f"costs ${monthly_usd:,.0f}/month, over the ${spec.budget_usd_month:,.0f} budget"
    return ""


def with_replicas(spec: DeploymentSpec, s: Sized, rate_rps: float, *, exact: bool, why_zero: str) -> Sized:
    """Replicas for the peak load, then the price, max_gpus and budget checks."""
    replicas = replicas_for(spec.traffic.peak_qps, rate_rps)
    if not replicas:
        why = why_zero or f"cannot hold the SLO at {spec.slo.percentile} even at low load"
        return replace(s, exact=exact, replicas=0, reason=f"{why} (TP={s.tp}, {s.precision.value})")
    s = replace(s, replicas=replicas, rate_per_replica_rps=rate_rps, exact=exact, reason="")
    if s.price is None:
        return replace(s, reason=f"no price for {s.gpu.id}")
    return replace(
        s, reason=constraint_reason(spec, replicas=replicas, tp=s.tp, monthly_usd=s.cost_per_month_usd)
    )
