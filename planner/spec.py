"""The deployment spec: what a team needs, validated, before any model or GPU is chosen.

Two Pydantic models:
    Intent          what a message said (every field optional); both extractors produce it, and its
                    JSON schema is what the LLM is asked to fill
    DeploymentSpec  the complete, validated spec the planner works from (defaults filled in from the
                    use case's template; `questions` lists what was guessed)

`check_spec()` turns Pydantic's validation errors into one `InvalidInputError` a person can act on.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import InvalidInputError
from planner.types import ArrivalKind, Precision

MAX_USERS = 100_000_000
MAX_QPS = 1_000_000.0
MAX_TOKENS = 2_000_000


class Level(StrEnum):
    """How much one concern matters."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Percentile(StrEnum):
    """Latency percentile an SLO is stated at."""

    P50 = "p50"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"


class Priorities(BaseModel):
    """What matters most: latency, cost, accuracy (medium each when unsaid)."""

    model_config = ConfigDict(extra="forbid")

    latency: Level = Level.MEDIUM
    cost: Level = Level.MEDIUM
    accuracy: Level = Level.MEDIUM


class Intent(BaseModel):
    """What a request said, field by field; None (or empty) where it said nothing."""

    model_config = ConfigDict(extra="ignore")

    use_case: str | None = Field(
        default=None, description="use-case id from the catalog, e.g. chatbot_conversational"
    )
    user_count: int | None = Field(default=None, description="number of people who will use it")
    qps: float | None = Field(default=None, description="requests per second at peak, when stated")
    mean_qps: float | None = Field(
        default=None, description="average requests per second of a volume stated per day, week or month"
    )
    user_requests_per_min: float | None = Field(
        default=None, description="requests a minute each user makes at work, from a stated per-user volume"
    )
    qps_basis: str | None = Field(
        default=None, description="how the request rate follows from a stated volume of work, when it does"
    )
    tokens_per_s: float | None = Field(
        default=None,
        description="tokens processed per second (prompt + answer), of a volume stated per minute or hour",
    )
    mean_tokens_per_s: float | None = Field(
        default=None,
        description="mean tokens processed per second (prompt + answer), of a volume per day or longer",
    )
    concurrency: int | None = Field(
        default=None, description="concurrent requests, when stated instead of users"
    )
    priorities: Priorities = Field(default_factory=Priorities)
    preferred_gpu_types: list[str] = Field(default_factory=list, description="GPU types asked for")
    excluded_gpu_types: list[str] = Field(default_factory=list, description="GPU types ruled out")
    preferred_models: list[str] = Field(default_factory=list, description="models asked for")
    excluded_models: list[str] = Field(default_factory=list, description="models ruled out")
    ttft_ms: float | None = Field(default=None, description="time-to-first-token target, milliseconds")
    tpot_ms: float | None = Field(default=None, description="time-per-output-token target, milliseconds")
    e2e_ms: float | None = Field(default=None, description="end-to-end latency target, milliseconds")
    percentile: Percentile | None = None
    input_tokens: int | None = Field(default=None, description="typical prompt length, tokens")
    input_tokens_basis: str | None = Field(
        default=None, description="how the prompt length follows from a stated document size, when it does"
    )
    output_tokens: int | None = Field(default=None, description="typical answer length, tokens")
    context_length_tokens: int | None = Field(default=None, description="longest context needed, tokens")
    domain: str | None = Field(
        default=None, description="industry or domain, e.g. healthcare, finance, legal"
    )
    budget_usd_month: float | None = Field(default=None, description="monthly budget, US dollars")
    max_gpus: int | None = None
    precision: Precision | None = None
    provider: str | None = None
    region: str | None = None
    approved_only: bool | None = None
    license: str | None = Field(default=None, description="licence required, e.g. apache-2.0")


class TrafficProfile(BaseModel):
    """Arrival rate and token lengths, and how the rate was derived."""

    model_config = ConfigDict(extra="forbid")

    mean_qps: float = Field(gt=0, le=MAX_QPS)
    peak_qps: float = Field(gt=0, le=MAX_QPS)
    arrival: ArrivalKind = ArrivalKind.POISSON
    input_tokens_mean: int = Field(ge=1, le=MAX_TOKENS)
    input_tokens_std: int = Field(default=0, ge=0)
    output_tokens_mean: int = Field(ge=1, le=MAX_TOKENS)
    output_tokens_std: int = Field(default=0, ge=0)
    prefix_tokens: int = Field(default=0, ge=0)
    active_fraction: float = Field(gt=0, le=1)
    requests_per_active_user_per_min: float = Field(gt=0)
    peak_factor: float = Field(ge=1)
    qps_given: bool = False
    users_at_work: bool = False  # every user works through the day at a stated per-user volume
    derivation: str = ""

    @property
    def typical_request_tokens(self) -> int:
        """A mean request's prompt + answer, tokens (the least context the requests need)."""
        return self.input_tokens_mean + self.output_tokens_mean

    @model_validator(mode="after")
    def _prefix_within_prompt(self) -> TrafficProfile:
        if self.prefix_tokens >= self.input_tokens_mean:
            raise ValueError(
                f"the shared prefix ({self.prefix_tokens:,} tokens) must be shorter than the prompt "
                f"({self.input_tokens_mean:,} tokens); it is the part every prompt starts with"
            )
        return self


class SloSpec(BaseModel):
    """Latency targets at one percentile."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float = Field(gt=0, le=3_600_000)
    tpot_ms: float = Field(gt=0, le=60_000)
    e2e_ms: float = Field(gt=0, le=36_000_000)
    percentile: Percentile = Percentile.P95


class DeploymentSpec(BaseModel):
    """A validated deployment spec: use case, load, latency targets, priorities and constraints."""

    model_config = ConfigDict(extra="forbid")

    use_case: str
    user_count: int = Field(ge=1, le=MAX_USERS)
    experience_class: str = "conversational"
    domain: str = "general"
    traffic: TrafficProfile
    slo: SloSpec
    priorities: Priorities = Field(default_factory=Priorities)
    preferred_gpu_types: list[str] = Field(default_factory=list)
    excluded_gpu_types: list[str] = Field(default_factory=list)
    preferred_models: list[str] = Field(default_factory=list)
    excluded_models: list[str] = Field(default_factory=list)
    max_gpus: int | None = Field(default=None, ge=1, le=100_000)
    precision: Precision | None = None
    license: str | None = None
    approved_only: bool = False
    context_length_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    budget_usd_month: float | None = Field(default=None, gt=0)
    provider: str | None = None
    region: str | None = None
    questions: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


_HINTS: dict[str, str] = {
    "user_count": f"give the number of people who will use it, 1 to {MAX_USERS:,}",
    "mean_qps": "give requests per second above 0 (e.g. --qps 20)",
    "peak_qps": "give requests per second above 0 (e.g. --qps 20)",
    "ttft_ms": "give a time-to-first-token target above 0 ms (e.g. --ttft-ms 500)",
    "tpot_ms": "give a time-per-output-token target above 0 ms (e.g. --tpot-ms 50)",
    "e2e_ms": "give an end-to-end target above 0 ms (e.g. --e2e-ms 10000)",
    "max_gpus": "give at least 1 GPU",
    "budget_usd_month": "give a monthly budget above $0",
    "input_tokens_mean": f"give a prompt length of 1 to {MAX_TOKENS:,} tokens",
    "output_tokens_mean": f"give an answer length of 1 to {MAX_TOKENS:,} tokens",
    "context_length_tokens": f"give a context length of 1 to {MAX_TOKENS:,} tokens",
}


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: which field, the value given, what the bound is and what to do."""
    lines = []
    for err in exc.errors():
        field = str(err["loc"][-1]) if err["loc"] else "spec"
        hint = _HINTS.get(field, "")
        value = err.get("input")
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)
        lines.append(f"{field}={shown}: {err['msg'].lower()}" + (f"; {hint}" if hint else ""))
    return "; ".join(lines)


def check_spec(data: dict[str, Any]) -> DeploymentSpec:
    """Validate a spec from a dict.

    Raises:
        InvalidInputError: a field is missing or out of range; the message names the field, its bound
            and what to give instead.
    """
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(describe_validation_error(exc)) from None


WORKING_FIELDS = ("qps_basis", "input_tokens_basis")  # the rules' arithmetic, never the LLM's


def intent_json_schema() -> dict[str, Any]:
    """The JSON schema the LLM fills (Ollama's `format`), generated from `Intent`, without the
    fields that hold the rule-based extractor's working."""
    schema = Intent.model_json_schema()
    for name in WORKING_FIELDS:
        schema["properties"].pop(name, None)
    return schema
