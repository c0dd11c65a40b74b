"""From an Intent to a complete DeploymentSpec: the use case's template fills what was not said.

Missing essentials (the use case, the number of users or the request rate) become `questions`, and
a usable default is taken so that a plan can still be shown.
"""

from __future__ import annotations

from planner.catalog import Catalog
from planner.errors import InvalidInputError
from planner.spec import MAX_QPS, MAX_USERS, DeploymentSpec, Intent, Percentile, check_spec
from planner.traffic import RATE_NOTE, USERS_NOTE, traffic_profile
from planner.types import SloTemplate

DEFAULT_USE_CASE = "chatbot_conversational"
DEFAULT_USERS = 100


def default_template(catalog: Catalog) -> SloTemplate:
    """The template used when the use case is unknown.

    Raises:
        InvalidInputError: the catalog has no use-case templates at all.
    """
    if not catalog.templates:
        raise InvalidInputError("the knowledge base has no use-case templates; run `predeploy kb init` first")
    return next((t for t in catalog.templates if t.use_case == DEFAULT_USE_CASE), catalog.templates[0])


def _users_from_qps(qps: float, tpl: SloTemplate, *, mean: bool = False) -> int:
    """Users the template needs for a peak rate (or, with `mean`, an average rate)."""
    d = tpl.traffic
    per_user = d.active_fraction * d.requests_per_active_user_per_min / 60.0
    return max(1, min(MAX_USERS, round(qps / (per_user if mean else per_user * d.peak_factor))))


def _token_volume_rate(intent: Intent, tpl: SloTemplate, notes: list[str]) -> Intent:
    """A token volume ("2M tokens per day") as a request rate over the prompt + answer length: the
    mean rate when stated per day or longer, the rate itself per minute or hour."""
    tokens, average = (
        (intent.tokens_per_s, False) if intent.tokens_per_s else (intent.mean_tokens_per_s, True)
    )
    if not tokens or intent.qps is not None or intent.mean_qps is not None:
        return intent
    per_request = (intent.input_tokens or tpl.traffic.input_tokens_mean) + (
        intent.output_tokens or tpl.traffic.output_tokens_mean
    )
    rate = tokens / per_request
    notes.append(
        f"{RATE_NOTE}{tokens * 86400:,.0f} tokens a day ÷ {per_request:,} "
        f"tokens a request ÷ 86,400 s = {rate:.3g} req/s" + (" mean" if average else "")
    )
    return intent.model_copy(update={"mean_qps" if average else "qps": rate})


def build_spec(intent: Intent, catalog: Catalog) -> DeploymentSpec:
    """Fill a spec from what was said and the use case's template.

    Raises:
        InvalidInputError: a stated value is out of range; the message says which and what to give.
    """
    questions: list[str] = []
    notes: list[str] = []
    tpl = catalog.template(intent.use_case) if intent.use_case else None
    if tpl is None:
        tpl = default_template(catalog)
        choices = ", ".join(t.use_case for t in catalog.templates)
        questions.append(f"What will it be used for? I assumed {tpl.use_case} (one of: {choices}).")
    users = intent.user_count
    intent = _token_volume_rate(intent, tpl, notes)
    mean_qps = intent.mean_qps if intent.qps is None else None  # a stated rate wins over a volume
    volume_rate = intent.qps if intent.qps is not None else mean_qps
    if intent.qps_basis and volume_rate is not None and not 0 < volume_rate <= MAX_QPS:
        raise InvalidInputError(
            f"the stated volume, {intent.qps_basis}, is not a rate to plan for (above 0 and at most "
            f"{MAX_QPS:,.0f} req/s); give the volume again, e.g. '50k documents a day' or '20 req/s'"
        )
    if intent.qps_basis and (intent.qps or mean_qps or intent.user_requests_per_min):
        notes.append(f"{RATE_NOTE}{intent.qps_basis}")
    if intent.input_tokens_basis and intent.input_tokens:
        notes.append(f"prompt length from the stated document size: {intent.input_tokens_basis}")
    if users is not None and not 1 <= users <= MAX_USERS:
        raise InvalidInputError(
            f"user_count={users:,} is out of range; "
            f"give the number of people who will use it, 1 to {MAX_USERS:,}"
        )
    if users is None and (intent.qps is not None or mean_qps is not None):
        rate = intent.qps if intent.qps is not None else mean_qps
        users = _users_from_qps(rate or 0.0, tpl, mean=intent.qps is None)
        notes.append(f"{USERS_NOTE}{rate:.3g} req/s with the {tpl.use_case} template")
    elif users is None:
        users = DEFAULT_USERS
        if tpl.experience_class == "batch":  # a batch has no people waiting: ask for its volume
            assumed = traffic_profile(users, tpl.traffic).peak_qps
            questions.append(
                "How much work, in what time (e.g. '2M tickets overnight' or '50k documents a day')? "
                f"I assumed {assumed:,.3g} req/s."
            )
        else:
            questions.append(
                "How many people will use it (or how many requests per second)? "
                f"I assumed {DEFAULT_USERS} users."
            )
    traffic = traffic_profile(
        users,
        tpl.traffic,
        qps=intent.qps,
        mean_qps=mean_qps,
        user_requests_per_min=None if intent.qps or mean_qps else intent.user_requests_per_min,
        concurrent_users=intent.concurrency,
        input_tokens=intent.input_tokens,
        output_tokens=intent.output_tokens,
    )
    if intent.context_length_tokens and intent.context_length_tokens < traffic.typical_request_tokens:
        questions.append(
            f"A {intent.context_length_tokens:,}-token context is shorter than a typical request here "
            f"({traffic.input_tokens_mean:,}-token prompt + {traffic.output_tokens_mean:,}-token answer), "
            "so I planned for the requests; how long are the prompts?"
        )
    slo = {
        "ttft_ms": intent.ttft_ms if intent.ttft_ms is not None else tpl.slo.ttft_ms,
        "tpot_ms": intent.tpot_ms if intent.tpot_ms is not None else tpl.slo.itl_ms,
        "e2e_ms": intent.e2e_ms if intent.e2e_ms is not None else tpl.slo.e2e_ms,
        "percentile": intent.percentile or Percentile(tpl.slo.percentile),
    }
    if intent.e2e_ms is not None:
        ttft = intent.ttft_ms if intent.ttft_ms is not None else tpl.slo.ttft_ms
        tpot = intent.tpot_ms if intent.tpot_ms is not None else tpl.slo.itl_ms
        question = _tight_e2e(intent.e2e_ms, ttft, tpot, traffic.output_tokens_mean)
        if question:
            questions.append(question)
    data = {
        "use_case": tpl.use_case,
        "user_count": users,
        "experience_class": tpl.experience_class,
        "domain": intent.domain or "general",
        "traffic": traffic.model_dump(),
        "slo": slo,
        "priorities": intent.priorities.model_dump(),
        "preferred_gpu_types": intent.preferred_gpu_types,
        "excluded_gpu_types": intent.excluded_gpu_types,
        "preferred_models": intent.preferred_models,
        "excluded_models": intent.excluded_models,
        "max_gpus": intent.max_gpus,
        "precision": intent.precision,
        "license": intent.license,
        "approved_only": bool(intent.approved_only),
        "context_length_tokens": intent.context_length_tokens,
        "budget_usd_month": intent.budget_usd_month,
        "provider": intent.provider,
        "region": intent.region,
        "questions": questions,
        "notes": notes,
    }
    return check_spec(data)


def _tight_e2e(e2e: float, ttft: float, tpot: float, output_tokens: int) -> str | None:
    """A stated whole-answer target that leaves far less per token than the TPOT target: perhaps
    the first token was meant. The question says what the e2e target implies and how to say otherwise."""
    if output_tokens < 2:
        return None
    per_token = (e2e - min(ttft, e2e / 2)) / (output_tokens - 1)
    if per_token >= tpot / 2:
        return None
    return (
        f"Is {e2e:,.0f} ms the time for the whole answer? With {output_tokens:,}-token answers that "
        f"leaves about {per_token:.0f} ms per token (TPOT target {tpot:,.0f} ms), which only the fastest "
        f"options meet; if you meant the first token, say e.g. 'TTFT under {e2e / 1000:g} s', or give the "
        "answer length."
    )
