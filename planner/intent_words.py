"""Words in free text: use case, domain, priorities, and GPU/model names with their negations.

Tables are data: a phrase, its weight, and what it means. Negation ("not autocomplete", "no H100s")
looks back a few words within the same clause.
"""

# ruff: noqa: E501  (the tables below are regular expressions; split, they read worse)

from __future__ import annotations

import re

from planner.spec import Level

# Use cases: (regex, weight). The ids are the usual template ids; `resolve_use_case` maps them onto
# the catalog's own ids and the templates' own keywords.
USE_CASE_RULES: dict[str, tuple[tuple[str, float], ...]] = {
    "code_completion": (
        (
            r"auto-?complet\w*|code completion|tab[ -]completion|inline (?:code )?(?:suggestions|completions?)",
            5,
        ),
        (
            r"complet\w* (?:in|inside) (?:the |their |our )?(?:ide|editor)|ide (?:plugin|extension)|fill-in-the-middle|fim\b",
            4,
        ),
    ),
    "code_generation_detailed": (
        (
            r"code generation|generat\w* code|coding (?:assistant|copilot|agent|helper)|code assistant|"
            r"programming assistant|developer assistant|write code|writing code|code review|text-to-sql|"
            r"sql generation|generat\w* sql|unit tests?|refactor\w*|pair[ -]programm\w*|copilot",
            4,
        ),
        (r"developers|engineers|programmers|\bdevs\b|coders", 1),
    ),
    "chatbot_conversational": (
        (
            r"chat-?bots?|chat assistant|support bot|help ?desk|virtual assistant|conversational|faq bot|"
            r"customer (?:service|support|care)|assistant for (?:our )?(?:customers|users|staff|employees)|"
            r"concierge|answer (?:customer |patient |employee )?questions|chat (?:with|for)|live chat|"
            r"voice (?:agent|assistant|bot)|call cent(?:er|re)",
            3,
        ),
        (r"support (?:team|staff|agents|reps)", 2),
        (r"\bchat\b|assistant|questions", 1),
    ),
    "translation": ((r"translat\w*|locali[sz]\w*", 5), (r"multilingual", 1)),
    "content_generation": (
        (
            r"marketing copy|content generation|generat\w* content|blog posts?|product descriptions?|ad copy|"
            r"copywrit\w*|social media posts?|draft(?:ing)? (?:emails|replies|letters)|write (?:emails|articles|posts)|"
            r"creative writing|newsletters?|writing (?:assistant|tool|help)|(?:email|letter|reply) (?:drafting|writing|generation)",
            4,
        ),
        (r"articles|posts", 1),
    ),
    "summarization_short": ((r"summar\w*|tl;?dr|meeting notes|call transcripts|digests?|recaps?", 4),),
    "document_analysis_rag": (
        (
            r"\brag\b|retrieval|knowledge base|search (?:over|across|through) (?:our |the )?(?:docs|documents|wiki)|"
            r"document q ?& ?a|question answering over|internal (?:docs|documentation|wiki)|semantic search|"
            r"enterprise search|chat with (?:our |their |the )?(?:docs|documents|pdfs)|over (?:our |the )?(?:docs|documents|pdfs|manuals|policies)",
            5,
        ),
        (r"documents|docs|manuals|policies", 1),
    ),
    "long_document_summarization": (
        (
            r"long (?:documents?|reports?|filings?|transcripts?)|\d+[- ]page|lengthy|entire (?:books?|reports?|documents?)|"
            r"books?|annual reports?|full-length",
            3,
        ),
    ),
    "research_legal_analysis": (
        (
            r"legal (?:analysis|research|review)|contract (?:analysis|review)|due diligence|case law|"
            r"regulatory filings|compliance review|research analysis|review (?:of )?contracts|analy[sz]\w* contracts",
            6,
        ),
    ),
    "batch_processing": (
        (
            r"\bbatch\b|(?:overnight|nightly)(?! (?:staff|shifts?|teams?|support|agents|workers|crews?|users|operators|nurses|desk))|"
            r"\bbulk\b|backfill|classify (?:\d+|millions|thousands)|"
            r"(?:millions|thousands) of (?:records|documents|tickets|emails|reviews) (?:a|per|each) (?:day|night)",
            12,  # how the work runs outweighs what it is: "summarize 1M documents overnight" is a batch job
        ),
        # "offline" also means air-gapped ("works offline"): evidence of a batch, not decisive
        (
            r"(?<!works )(?<!work )(?<!working )offline(?![- ](?:mode|use|access|capable|first|devices?|laptops?))",
            4,
        ),
    ),
}

DOMAIN_RULES: tuple[tuple[str, str], ...] = (
    (
        "healthcare",
        r"health\w*|hospital|clinic\w*|medical|patients?|doctors?|nurses?|physicians?|pharma\w*|ehr\b",
    ),
    (
        "finance",
        r"bank\w*|financ\w*|fintech|trading|traders|insurance|underwrit\w*|wealth|payments?|accountants?|audit\w*",
    ),
    ("legal", r"legal|law firm|lawyers?|attorneys?|paralegals?|contracts?|litigation|case law"),
    ("retail", r"e-?commerce|retail|shop\w*|online store|orders|returns|merchants?|products?"),
    ("education", r"students?|universit\w*|school|teachers?|edtech|learners?|tutor\w*|courses?"),
    ("software", r"developers?|engineers?|programm\w*|code|coding|\bide\b|repositor\w*|devs\b"),
    ("government", r"government|public sector|agency|citizens?|municipal\w*"),
    ("telecom", r"telecom\w*|carrier|mobile operator"),
    ("travel", r"airline|hotel|travel|booking|hospitality"),
    ("media", r"media|publish\w*|newsroom|journalis\w*|news"),
    ("hr", r"\bhr\b|human resources|recruit\w*|hiring"),
    ("manufacturing", r"manufactur\w*|factory|industrial"),
    ("gaming", r"gam(?:e|es|ing)\b|players?"),
)

_HIGH, _LOW = Level.HIGH, Level.LOW
_MATTERS = r"(?:is |are )?(?:critical|crucial|key|paramount|essential|a priority|top priority|important|vital|matters?|everything)"
_NOMATTER = (
    r"(?:(?:does not|do not|not|is not|isn't|won't|will not) (?:really )?(?:matter|important|critical|a concern|"
    r"an issue|a priority|a big deal|care)|(?:is|are) (?:secondary|flexible|no object|not a concern|not an issue))"
)
PRIORITY_RULES: dict[str, tuple[tuple[str, Level], ...]] = {
    "latency": (
        (
            rf"(?:latency|speed|response time|responsiveness)\s+{_NOMATTER}|not latency[- ](?:critical|sensitive)|"
            r"(?:can|could) (?:tolerate|accept|live with)(?: \w+){0,2} (?:latency|delays?|slow\w*|waits?)|"
            r"(?:speed|latency) is less important|(?:can|could) wait|(?:does|do) not (?:need|have) (?:it )?(?:to be )?"
            r"(?:fast|quick|real-time|instant)|"
            r"do not care (?:about|how) (?:latency|speed|fast)|slow is fine|not time[- ]sensitive|"
            r"no (?:latency|speed|response[- ]time|real[- ]time) (?:requirements?|targets?|constraints?|needs?|slos?)|"
            r"no (?:rush|hurry)|not urgent",
            _LOW,
        ),
        (
            rf"(?:latency|speed|response time|responsiveness|fast responses?)\s+{_MATTERS}|low[- ]latency|"
            r"latency[- ](?:critical|sensitive)|real[- ]time|snappy|instant\w*|as fast as possible|fast\b|quick(?:ly)?\b|"
            r"minimi[sz]e latency|speed is|ultra-?responsive|must feel live",
            _HIGH,
        ),
    ),
    "cost": (
        (
            rf"(?:cost|price|budget|money|spend(?:ing)?)\s+{_NOMATTER}|money is no object|budget is flexible|"
            r"(?:do not|not) care about (?:the )?(?:cost|price|money)|regardless of (?:the )?cost|whatever it costs|"
            r"deep pockets|cost is secondary|not cost[- ]sensitive|(?:cost|budget) is not (?:an issue|a constraint)",
            _LOW,
        ),
        (
            rf"(?:cost|price|budget|spend(?:ing)?)\s+{_MATTERS}|cheap\w*|low[- ]cost|budget is tight|tight budget|"
            r"cost[- ](?:sensitive|conscious|effective|efficient)|on a budget|minimi[sz]e (?:the )?(?:cost|spend)|keep (?:the )?(?:costs?|spend\w*) "
            r"(?:down|low)|affordable|save money|inexpensive|frugal|lowest (?:cost|price)|limited budget|small budget",
            _HIGH,
        ),
    ),
    "accuracy": (
        (
            rf"(?:accuracy|quality)\s+{_NOMATTER}|good enough|does not need to be (?:perfect|great)|"
            r"(?:accuracy|quality) is less important|rough (?:answers|drafts) (?:are )?(?:fine|ok)|basic quality",
            _LOW,
        ),
        (
            rf"(?:accuracy|quality|correctness|precision of answers)\s+{_MATTERS}|high[- ](?:accuracy|quality)|"
            r"best (?:quality|model|answers|possible)|most (?:accurate|capable)|top[- ](?:quality|tier)|"
            r"(?:can not|cannot) afford (?:mistakes|errors|hallucinations)|accurate|smartest|strongest model|"
            r"(?:quality|accuracy) (?:first|above all)|highest quality",
            _HIGH,
        ),
    ),
}
_OVER_RE = re.compile(
    r"\b(latency|speed|cost|price|quality|accuracy|throughput)\s+(?:over|before|above|rather than)\s+"
    r"(latency|speed|cost|price|quality|accuracy)\b"
)
_CONCERN = {
    "latency": "latency",
    "speed": "latency",
    "cost": "cost",
    "price": "cost",
    "quality": "accuracy",
    "accuracy": "accuracy",
    "throughput": "",
}

NEGATORS = re.compile(
    r"\b(?:no|not|never|without|avoid|avoiding|exclude|excluding|except|nor|"
    r"other than|unlike|none of|skip|ban|banned|forbid\w*)\b"
)
DEMOTERS = re.compile(r"\b(?:over|rather than|instead of|than|from)\s*$")
_CLAUSE_END = re.compile(r"[,.;!?:]|\b(?:but|use|using|prefer|want|need|and then|however|so)\b")


def is_negated(t: str, start: int) -> bool:
    """True when a negator precedes position `start` in the same clause (within ~30 characters)."""
    window = t[max(0, start - 30) : start]
    cuts = list(_CLAUSE_END.finditer(window))
    if cuts:
        window = window[cuts[-1].end() :]
    return bool(NEGATORS.search(window))


def is_demoted(t: str, start: int) -> bool:
    """True for the second name of "prefer X over Y", "X instead of Y", "switch from Y": neither wanted
    nor ruled out."""
    return bool(DEMOTERS.search(t[max(0, start - 15) : start]))


def find_priorities(t: str) -> dict[str, Level]:
    """Concerns the message ranks: {'latency': HIGH, 'cost': LOW, ...}."""
    out: dict[str, Level] = {}
    for concern, rules in PRIORITY_RULES.items():
        for rx, level in rules:
            m = re.search(rx, t)
            if m and not (level is _HIGH and is_negated(t, m.start())):
                out[concern] = level
                break
    for m in _OVER_RE.finditer(t):
        if _CONCERN[m.group(1)]:
            out[_CONCERN[m.group(1)]] = _HIGH
        out.setdefault(_CONCERN[m.group(2)], _LOW)
    return out


def score_use_cases(t: str) -> dict[str, float]:
    """Weight of evidence for each use case (negated mentions count against it). Ties go to the use
    case mentioned first: a fraction of a point less the later its first mention."""
    scores: dict[str, float] = {}
    for uc, rules in USE_CASE_RULES.items():
        first = len(t)
        for rx, weight in rules:
            for m in _compiled(rx).finditer(t):
                scores[uc] = scores.get(uc, 0.0) + (-weight if is_negated(t, m.start()) else weight)
                first = min(first, m.start())
        if uc in scores:
            scores[uc] -= first / (len(t) + 1) / 10
    if scores.get("summarization_short", 0) > 0 and scores.get("long_document_summarization", 0) > 0:
        scores["long_document_summarization"] += scores.pop("summarization_short")
    elif scores.get("long_document_summarization", 0) > 0 and scores.get("summarization_short", 0) <= 0:
        scores["long_document_summarization"] = min(scores["long_document_summarization"], 1.0)
    return {k: v for k, v in scores.items() if v > 0}


def find_domain(t: str) -> str | None:
    best, best_hits = None, 0
    for domain, rx in DOMAIN_RULES:
        hits = len(_compiled(rx).findall(t))
        if hits > best_hits:
            best, best_hits = domain, hits
    return best


_COMPILED: dict[str, re.Pattern[str]] = {}


def _compiled(rx: str) -> re.Pattern[str]:
    if rx not in _COMPILED:
        _COMPILED[rx] = re.compile(rf"\b(?:{rx})")
    return _COMPILED[rx]
