"""Quantities in free text: users, QPS, latency targets, tokens, budget, GPU limits.

Every function takes the lower-cased message (after `normalise_text`) and returns None when the
message states nothing. Ranges ("5,000-10,000 users") resolve to the upper bound: capacity is
planned for the most load that was stated.
"""

# ruff: noqa: E501  (the tables below are regular expressions; split, they read worse)

from __future__ import annotations

import re

_WORD_NUM = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a": 1,
    "a dozen": 12,
    "a couple": 2,
    "a few": 3,
    "several": 5,
    "half a": 0.5,
}
_SCALE = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_WORDS_RE = re.compile(  # "a few hundred", "half a million", "several thousand"
    r"\b(half a|a dozen|a couple|a few|several|a)((?:\s+(?:hundred|thousand|million|billion))+)\b"
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_RUN_WORD = "|".join(
    sorted((k for k in (*_WORD_NUM, *_SCALE) if " " not in k and k != "a"), key=len, reverse=True)
)
# "two thousand five hundred", "twenty-five thousand", "one hundred and fifty", "thirty five"
_RUN_RE = re.compile(rf"\b(?:{_RUN_WORD})(?:(?:\s+|-)(?:and\s+)?(?:{_RUN_WORD}))+\b")


def _run_value(words: list[str]) -> float | None:
    """The number a run of number words spells, or None when the words are not one number
    ("five ten" is two numbers; "thirty five" and "two thousand five hundred" are one)."""
    if not any(w in _SCALE for w in words) and not (len(words) == 2 and words[0] in _TENS):
        return None
    total, current = 0.0, 0.0
    for word in words:
        if word == "hundred":
            current = (current or 1.0) * 100
        elif word in _SCALE:
            total += (current or 1.0) * _SCALE[word]
            current = 0.0
        else:
            current += _WORD_NUM[word]
    return total + current


def _spelled(m: re.Match[str]) -> str:
    words = [w for w in re.split(r"[\s-]+", m.group(0)) if w != "and"]
    value = _run_value(words)
    return m.group(0) if value is None else f"{value:.0f}"


_BARE_WORDS_RE = re.compile(r"\b(" + "|".join(k for k in _WORD_NUM if len(k) > 2 and " " not in k) + r")\b")

NUM = r"(\d[\d,]*(?:\.\d+)?)\s*(k|m|mm|bn|b|million|thousand|billion)?\+?"
_SUFFIX = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}


def normalise_text(text: str) -> str:
    """Lower-case, expand contractions and number words ("two thousand" -> "2000")."""
    t = text.lower().replace("’", "'").replace("–", "-").replace("—", " - ")
    t = re.sub(r"\bcan't\b", "can not", t)
    t = re.sub(r"\bwon't\b", "will not", t)
    t = re.sub(r"n't\b", " not", t)

    def words(m: re.Match[str]) -> str:
        value = float(_WORD_NUM[m.group(1)])
        for scale in m.group(2).split():
            value *= _SCALE[scale]
        return f"{value:.0f}"

    t = _WORDS_RE.sub(words, t)
    t = _RUN_RE.sub(_spelled, t)
    t = _BARE_WORDS_RE.sub(lambda m: str(_WORD_NUM[m.group(1)]), t)
    t = re.sub(r"\b10\s*(?:\^|\*\*)\s*(\d{1,2})\b", lambda m: str(10 ** int(m.group(1))), t)
    t = re.sub(
        r"\b(\d+(?:\.\d+)?)e(\d{1,2})\b", lambda m: f"{float(m.group(1)) * 10 ** int(m.group(2)):.0f}", t
    )
    return re.sub(r"\b(\d+)\s*x\s*(?=[a-z])", r"\1 x ", t)


def to_number(digits: str, suffix: str | None) -> float:
    """'1.2', 'm' -> 1_200_000."""
    value = float(digits.replace(",", ""))
    return value * _SUFFIX.get(suffix or "", 1.0)


_USER_NOUNS = (
    r"users?|people|persons?|employees|staff|agents|developers|devs|engineers|customers|clients|clinicians|"
    r"doctors|physicians|nurses|students|teachers|analysts|lawyers|attorneys|paralegals|members|seats|reps|"
    r"representatives|traders|advisors|advisers|researchers|writers|editors|translators|operators|shoppers|"
    r"visitors|subscribers|patients|workers|colleagues|learners|players|readers|callers|accountants|"
    r"underwriters|adjusters|bankers|recruiters|marketers|sellers|merchants|drivers|guests|dau|mau|"
    r"scientists|programmers|coders|designers|officers|auditors|pharmacists|technicians|citizens|managers"
)
_NOT_ADJ = (
    r"(?!(?:tokens?|ms|milliseconds?|seconds?|secs?|requests?|reqs?|req|gpus?|per|every|each|queries|qps|rps|"
    r"x|times|more|fewer|less)\b)"  # "10x the users" scales them (`find_scales`); "10 more users" adds
)
_USERS_RE = re.compile(
    rf"(?<![\d.$])(?:{NUM})(?:\s*(?:-|to)\s*{NUM})?\s+(?:{_NOT_ADJ}[a-z][a-z\-]*\s+){{0,3}}?(?:{_USER_NOUNS})\b"
)
_TEAM_RE = re.compile(
    rf"\b(?:team|staff|headcount|user ?base|workforce|org|organi[sz]ation|company|group|firm|population)"
    rf"\s+of\s+(?:about\s+|around\s+|roughly\s+|~\s*|over\s+|nearly\s+)?{NUM}"
)
_PERSON_TEAM_RE = re.compile(
    rf"(?<![\d.$]){NUM}[\s-]+(?:person|people|member|strong|seat|user)(?:\s+[a-z]+)?\s+(?:team|org|company|firm)"
)
_PAREN_RE = re.compile(
    rf"\b(?:{_USER_NOUNS})\b[^(:\d]{{0,30}}[(:]\s*(?:about|around|roughly|approximately|~)?\s*{NUM}\s*\)?"
)
_MAKE_IT_RE = re.compile(
    rf"\b(?:make it|change it to|bump (?:it )?to|increase (?:it )?to|scale (?:it )?to|"
    rf"reduce (?:it )?to|drop (?:it )?to|now)\s+{NUM}\s*(?:$|[,.;!]|instead)"
)


# relative changes: "10x the users", "twice the traffic", "half the budget", "traffic doubles",
# "users grow 50%", "50% more users" (what each scales: the users, the request rate, the budget)
_SCALED = {
    "users": _USER_NOUNS,
    "qps": r"traffic|load|requests|request rate|rate|qps|rps|volume|demand",
    "budget": r"budget|spend(?:ing)?",
}
_FACTOR_WORDS = {"double": 2.0, "twice": 2.0, "triple": 3.0, "quadruple": 4.0, "half": 0.5, "halve": 0.5}
_FACTOR_VERBS = {"doubl": 2.0, "tripl": 3.0, "quadrupl": 4.0, "halv": 0.5}
MAX_SCALE = 1000.0
# "will", "is expected to", "is going to", "could": how people say a change is coming
_WILL = r"(?:(?:will|would|could|might|may|should|(?:is|are) (?:expected|going|likely|set) to|to)\s+)?"


def find_scales(t: str) -> dict[str, float]:
    """Factors a message scales the users, the request rate ("qps") or the budget by, e.g.
    {"users": 10.0} for "10x the users"; empty when it states none."""
    out: dict[str, float] = {}
    for key, nouns in _SCALED.items():
        noun = rf"(?:the |our |as many |as much |more )?(?:{nouns})\b"
        if m := re.search(rf"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:x|times)\s+{noun}", t):
            out[key] = float(m.group(1))
        elif m := re.search(rf"\b(double|twice|triple|quadruple|half|halve)\s+{noun}", t):
            out[key] = _FACTOR_WORDS[m.group(1)]
        elif m := re.search(rf"\b(?:{nouns})\s+{_WILL}(doubl|tripl|quadrupl|halv)(?:es|ed|e|ing)\b", t):
            out[key] = _FACTOR_VERBS[m.group(1)]
        elif m := re.search(
            rf"\b(?:{nouns})\s+{_WILL}(?:grows?|growing|go(?:es|ing)? up|increas(?:es?|ing)|ris(?:es?|ing)|jump(?:s|ing)?)"
            rf"\s+(?:by\s+)?(\d+(?:\.\d+)?)\s*(x|times|%)",
            t,
        ):
            value = float(m.group(1))
            out[key] = 1.0 + value / 100.0 if m.group(2) == "%" else value
        elif m := re.search(rf"(?<![\d.])(\d+(?:\.\d+)?)\s*%\s+(more|fewer|less)\s+{noun}", t):
            share = float(m.group(1)) / 100.0
            out[key] = 1.0 + share if m.group(2) == "more" else 1.0 - share
    return {k: v for k, v in out.items() if 0.0 < v <= MAX_SCALE and v != 1.0}


_CONCURRENT_RE = re.compile(  # "200 concurrent calls", "50 simultaneous sessions": users all active at once
    rf"(?<![\d.$]){NUM}(?:\s*(?:-|to)\s*{NUM})?\s+(?:concurrent|simultaneous|parallel)\s+(?:[a-z\-]+\s+)?"
    r"(?:calls|sessions|conversations|chats|streams|connections|requests|queries)\b"
)


def _range_upper(m: re.Match[str], first: int) -> float:
    low = to_number(m.group(first), m.group(first + 1))
    if m.lastindex and m.lastindex >= first + 2 and m.group(first + 2):
        high_suffix = m.group(first + 3) or m.group(first + 1)
        return max(low, to_number(m.group(first + 2), high_suffix))
    return low


def find_users(t: str, *, refinement: bool) -> tuple[int | None, bool]:
    """Return (user count, concurrent?) stated in the message, or (None, False)."""
    m = _USERS_RE.search(t)
    if m:
        return round(_range_upper(m, 1)), "concurrent" in m.group(0) or "simultaneous" in m.group(0)
    m = _CONCURRENT_RE.search(t)
    if m:
        return round(_range_upper(m, 1)), True
    for rx in (_TEAM_RE, _PERSON_TEAM_RE, _PAREN_RE):
        m = rx.search(t)
        if m:
            return round(to_number(m.group(1), m.group(2))), False
    m = _MAKE_IT_RE.search(t) if refinement else None
    if m:
        return round(to_number(m.group(1), m.group(2))), False
    return None, False


_QPS_RE = re.compile(
    rf"(?<![\d.]){NUM}\s*(?:qps|rps|req/s|reqs/s|requests?/s(?:ec)?|queries per second|requests? (?:per|a|each) second|"
    rf"queries a second|(?:requests?|queries|calls) per sec)"
)


def find_direct_qps(t: str) -> float | None:
    """Requests per second stated as a rate ("20 qps", "1.5k requests per second")."""
    m = _QPS_RE.search(t)
    return to_number(m.group(1), m.group(2)) if m else None


_DUR = r"(?<![a-z\d.,])(\d[\d,]*(?:\.\d+)?)\s*(ms|milliseconds?|msec|s|secs?|seconds?)\b"
_TTFT_WORDS = (
    r"ttft|time[ -]to[ -]first[ -]token|(?:(?:to|for|until) (?:the |a )?)?first[ -]token(?: latency)?"
)
_TPOT_WORDS = (
    r"tpot|itl|inter[ -]token(?: latency)?|time per (?:output )?token|per[ -]token latency|token latency"
)
_E2E_WORDS = (
    r"e2e|end[ -]to[ -]end(?: latency)?|full (?:response|answer)|complete (?:response|answer)|total latency"
)
_GENERIC = r"latency|response times?|responses?|replies|answers?|respond|p(?:50|90|95|99)"
_GAP = r"[^.;,\d]{0,25}?"


def _ms(value: str, unit: str) -> float:
    v = float(value.replace(",", ""))
    return v if unit.startswith("m") else v * 1000.0


def _target(t: str, words: str) -> float | None:
    """The duration next to one of `words`: after it ("TTFT under 300 ms") or before it ("300 ms TTFT"),
    whichever sits closer; a tie goes to the one after."""
    best: tuple[int, float] | None = None
    after = re.search(rf"(?:{words})({_GAP})(?:sub[ -]?)?{_DUR}", t)
    if after:
        best = (len(after.group(1)), _ms(after.group(2), after.group(3)))
    before = re.search(rf"(?:sub[ -]?)?{_DUR}(\s*(?:p\d\d\s*)?)(?:{words})", t)
    if before and (best is None or len(before.group(3)) < best[0]):
        best = (len(before.group(3)), _ms(before.group(1), before.group(2)))
    return best[1] if best else None


def find_slo(t: str) -> dict[str, float]:
    """Latency targets in ms: keys ttft_ms, tpot_ms, e2e_ms (only those stated)."""
    out: dict[str, float] = {}
    for key, words in (("ttft_ms", _TTFT_WORDS), ("tpot_ms", _TPOT_WORDS), ("e2e_ms", _E2E_WORDS)):
        v = _target(t, words)
        if v is not None:
            out[key] = v
    rate = r"(?:tokens?/s(?:ec)?|toks?/s|tokens? (?:per|a) second)"
    m = re.search(rf"(?<![\d.]){NUM}\s*{rate}\s*(?:per (?:user|stream|request|answer|response)|each)\b", t)
    # "streams at 40 tokens/s", "generate at least 30 tok/s": one stream's speed, not the total
    m = m or re.search(
        rf"\b(?:stream|generat|decod|typ|output)\w*\s+(?:(?:at|of|with)\s+)?(?:least\s+|about\s+|~\s*)?"
        rf"(?<![\d.]){NUM}\s*{rate}",
        t,
    )
    if m and "tpot_ms" not in out:
        out["tpot_ms"] = 1000.0 / max(to_number(m.group(1), m.group(2)), 1e-9)
    if not out:
        v = _target(t, _GENERIC)
        if v is not None:
            out["ttft_ms" if v <= 1000 else "e2e_ms"] = v
    return out


def find_percentile(t: str) -> str | None:
    m = re.search(r"\bp(50|90|95|99)\b|\b(50|90|95|99)(?:th)?[ -]percentile", t)
    return f"p{m.group(1) or m.group(2)}" if m else None


_TOK = r"(?:tokens?|toks?)"
_OUT_NOUNS = r"outputs?|answers?|responses?|completions?|replies|reply|summaries|summary"


def find_tokens(t: str) -> dict[str, int]:
    """Prompt/answer lengths and context need: keys input_tokens, output_tokens, context_length_tokens."""
    out: dict[str, int] = {}
    rules = (
        (
            "input_tokens",
            rf"{NUM}[\s-]*{_TOK}?\s*(?:prompts?|inputs?|in\b)|(?:prompts?|inputs?)\s+(?:of|are|around|about|~)?\s*(?:about |around |~)?{NUM}\s*{_TOK}",
        ),
        (
            "output_tokens",
            rf"{NUM}[\s-]*{_TOK}?\s*(?:{_OUT_NOUNS}|out\b)|(?:{_OUT_NOUNS})\s+(?:of|are|around|about|~)?\s*(?:about |around |~)?{NUM}\s*{_TOK}",
        ),
        (
            "context_length_tokens",
            rf"{NUM}[\s-]*{_TOK}?\s*(?:of )?context|context(?: window| length)?\s+(?:of|up to)?\s*{NUM}",
        ),
    )
    each = re.search(  # "4000 tokens each", "each about 4000 tokens", "4000-token documents"
        rf"{NUM}\s*{_TOK}\s+each\b|\beach\s+(?:(?!(?:{_OUT_NOUNS})\b)[a-z]+\s+)?(?:is\s+|has\s+)?(?:of\s+)?"
        rf"(?:about\s+|around\s+|~\s*)?{NUM}\s*{_TOK}"
        rf"|{NUM}[\s-]*{_TOK}\s+(?:documents?|docs|files|articles|reports|pages|transcripts|contracts|emails|tickets)",
        t,
    )
    for key, rx in rules:
        m = re.search(rx, t)
        if m:
            groups = [g for g in m.groups()]
            digits, suffix = (groups[0], groups[1]) if groups[0] else (groups[2], groups[3])
            if key != "context_length_tokens" and not re.search(_TOK, m.group(0)):
                continue
            out[key] = round(to_number(digits, suffix))
    before = t[max(each.start() - 40, 0) : each.start()] if each else ""
    if each and "input_tokens" not in out and not re.search(r"answers?|outputs?|responses?|replies", before):
        digits, suffix = next((each.group(i), each.group(i + 1)) for i in (1, 3, 5) if each.group(i))
        out["input_tokens"] = round(to_number(digits, suffix))  # the size of each item to process
    words = re.search(  # "replies of about 150 words", "200-word summaries"
        rf"(?:{_OUT_NOUNS})\s+(?:of|are|around|about|~)?\s*(?:about |around |~)?{NUM}\s*words?\b"
        rf"|{NUM}[\s-]*words?\s+(?:{_OUT_NOUNS})\b",
        t,
    )
    if words and "output_tokens" not in out:
        digits, suffix = (
            (words.group(1), words.group(2)) if words.group(1) else (words.group(3), words.group(4))
        )
        out["output_tokens"] = round(to_number(digits, suffix) / WORDS_PER_TOKEN)
    return out


# English prose runs about 0.75 words a token (OpenAI's rule of thumb, "100 tokens ~= 75 words"; a
# 153,446-word book measures 206,210 tokens, 0.74): a length stated in words becomes tokens so
WORDS_PER_TOKEN = 0.75
_MONEY = rf"(?:\$\s*{NUM}|(?<![\d.]){NUM}\s*(?:usd|dollars|\$))"


def find_budget(t: str) -> float | None:
    """Monthly budget in US dollars ("$5k/month", "budget of 60,000 dollars a year")."""
    if not re.search(r"budget|spend|per month|a month|/mo|monthly|per year|a year|annual|/yr|cap", t):
        return None
    m = re.search(_MONEY, t)
    if m:
        digits, suffix = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    else:
        m = re.search(rf"\bbudget\s*(?:of|is|:|around|about|~)?\s*(?:about |around |~)?{NUM}", t)
        if not m:
            return None
        digits, suffix = m.group(1), m.group(2)
    value = to_number(digits, suffix)
    tail = t[m.end() : m.end() + 25]
    return value / 12.0 if re.search(r"year|annual|/yr|annum", tail) else value


_MAXGPU_RE = re.compile(
    r"(?:at most|no more than|max(?:imum)?(?: of)?|up to|only have|limited to|cap(?:ped)? at|budget for|"
    r"not more than|<=?)\s*(\d+)\s*(?:[a-z0-9\-]+\s+)?gpus?\b|\b(\d+)\s*gpus?\s*(?:max|maximum|at most|tops)\b"
)


def find_max_gpus(t: str) -> int | None:
    m = _MAXGPU_RE.search(t)
    return int(m.group(1) or m.group(2)) if m else None
