"""Volumes of work in free text: items or tokens per minute, hour, day, week or month, a batch's
deadline, a volume each user handles, and a document's size, as request rates and prompt lengths
with the arithmetic shown (the spec's notes carry it).

Every function takes the lower-cased message (after `planner.intent_numbers.normalise_text`) and
returns None when the message states nothing of the kind.
"""

# ruff: noqa: E501  (the tables below are regular expressions; split, they read worse)

from __future__ import annotations

import re
from typing import NamedTuple

from planner.errors import InvalidInputError
from planner.intent_numbers import NUM, WORDS_PER_TOKEN, find_direct_qps, to_number

# work items a request stands for ("1,000,000 documents per day", "20k tickets a week")
_ITEMS = (
    r"requests?|queries|calls|documents?|docs|files|records|tickets|emails|reviews|transcripts|articles|"
    r"messages|conversations|chats|summaries|translations|jobs|tasks|items|reports|contracts|invoices|claims|"
    r"descriptions|listings|posts|comments|notes|prompts|questions|pages|texts|rows|entries|cases|forms|"
    r"orders|resumes|abstracts|papers|images|products|completions|generations|prs|pull requests|"
    r"merge requests|commits|diffs|code reviews|issues|builds|meetings|recordings|sessions"
)
_PER = {
    "minute": 60.0,
    "min": 60.0,
    "hour": 3600.0,
    "hr": 3600.0,
    "day": 86400.0,
    "night": 86400.0,  # a nightly batch: its daily volume, spread over the day
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
}


_PER_UNIT = rf"\s*(?:per|a|an|/|each)\s*({'|'.join(_PER)})\b"  # "per day", "a week", "/hour"
# up to three describing words between the number and the items ("50k legal contracts a day"),
# none of them a word that ends the phrase or starts another quantity
_ITEM_WORDS = r"(?:(?!(?:and|or|with|per|from|of|to|for|by|users?|gpus?|tokens?)\b)[a-z][a-z\-]*\s+){0,3}?"
_QPM_RE = re.compile(rf"(?<![\d.]){NUM}(?![a-z])\s*{_ITEM_WORDS}(?:{_ITEMS}){_PER_UNIT}")
# a batch with a deadline: "10 million descriptions overnight", "1M documents in 6 hours"
OVERNIGHT_S = 8 * 3600.0  # a night's batch window
_WINDOW_RE = re.compile(
    rf"(?<![\d.]){NUM}(?![a-z])\s*{_ITEM_WORDS}(?:{_ITEMS})\s+(?:(overnight|by (?:the )?morning|in (?:a|one) night)"
    rf"|(?:in|within|over)\s+(?:(\d+(?:\.\d+)?)|an?|one)\s*(minutes?|mins?|hours?|hrs?|days?)\b)"
)
_WINDOW_UNIT_S = {"min": 60.0, "hour": 3600.0, "hr": 3600.0, "day": 86400.0}
_TOKEN_VOLUME_RE = re.compile(rf"(?<![\d.]){NUM}\s*(?:tokens?|toks?){_PER_UNIT}")


_ADVERB_RE = re.compile(r"\b(hour|dai|night|week|month)ly\b")
_ADVERB_UNIT = {"dai": "day"}


def _per_words(t: str) -> str:
    """'daily', 'nightly', 'weekly', ... read as 'per day', 'per night', ... (only the volumes'
    own patterns see the rewritten text)."""
    return _ADVERB_RE.sub(lambda m: "per " + _ADVERB_UNIT.get(m.group(1), m.group(1)), t)


def find_token_volume(t: str) -> tuple[float, bool] | None:
    """(tokens per second, over a day or longer?) from a stated volume ("2M tokens per day")."""
    m = _TOKEN_VOLUME_RE.search(_per_words(t))
    return (to_number(m.group(1), m.group(2)) / _PER[m.group(3)], m.group(3) in AVERAGED_UNITS) if m else None


def find_qps(t: str) -> float | None:
    """Requests per second stated directly or per minute/hour/day."""
    direct = find_direct_qps(t)
    if direct is not None:
        return direct
    volume = find_item_volume(t)
    return volume[0] if volume else None


AVERAGED_UNITS = ("day", "night", "week", "month")  # a volume over these is an average, not a peak


_PER_HEAD = r"(?:users?|persons?|people|heads?|seats?|employees?|agents?|members?|customers?)"


def _per_user(t: str, m: re.Match[str]) -> bool:
    """The volume is each user's ("each user asks 20 questions a day"), not the total."""
    before, after = t[max(m.start() - 30, 0) : m.start()], t[m.end() : m.end() + 25]
    return bool(
        re.search(rf"\b(?:each|every|(?:per|a)\s+{_PER_HEAD})\b[^,.;]*$", before)
        or re.match(rf"\s*(?:each|per {_PER_HEAD}|an? {_PER_HEAD}|for each|from each)\b", after)
    )


class Volume(NamedTuple):
    """A request rate read from a volume of work, with its working."""

    qps: float
    basis: str
    average: bool  # over a day or longer: the mean rate, which peaks above (not a rate to plan as is)


def _volume(m: re.Match[str]) -> tuple[float, str, str]:
    """(count, what is counted, time unit) of a `_QPM_RE` match."""
    items = re.search(rf"(?:{_ITEMS})(?={_PER_UNIT})", m.group(0))
    return to_number(m.group(1), m.group(2)), items.group(0) if items else "requests", m.group(3)


def find_item_volume(t: str) -> Volume | None:
    """The request rate of a volume of work items per minute/hour/day/week/month, or of a batch
    with a deadline."""
    t = _per_words(t)
    m = _QPM_RE.search(t)
    if not m or _per_user(t, m):
        return _item_window(t)
    count, noun, unit = _volume(m)
    qps = count / _PER[unit]
    basis = f"{count:,.0f} {noun} a {unit} ÷ {_PER[unit]:,.0f} s = {qps:.3g} req/s"
    return Volume(qps, basis, unit in AVERAGED_UNITS)


WORKDAY_MIN = 8 * 60  # a volume each person handles a day is spread over a working day
_WORK_MINUTES = {"day": WORKDAY_MIN, "night": WORKDAY_MIN, "week": 5 * WORKDAY_MIN, "month": 21 * WORKDAY_MIN}


def find_user_volume(t: str) -> tuple[float, str] | None:
    """(requests a minute per user, how) from a volume each user handles a day, week or month
    ("each agent handles 40 tickets a day"): spread over working time, with every user at work."""
    t = _per_words(t)
    m = _QPM_RE.search(t)
    if not m or not _per_user(t, m) or m.group(3) not in _WORK_MINUTES:
        return None
    count, noun, unit = _volume(m)
    minutes = _WORK_MINUTES[unit]
    rpm = count / minutes
    span = {"week": "5 working days", "month": "21 working days"}.get(unit, "an 8-hour working day")
    return rpm, f"{count:,.0f} {noun} a {unit} each ÷ {minutes:,} min ({span}) = {rpm:.3g} req/min per user"


def _item_window(t: str) -> Volume | None:
    """A batch with a deadline ("overnight" is an 8-hour window): its volume over the window."""
    m = _WINDOW_RE.search(t)
    if not m or _per_user(t, m):
        return None
    count = to_number(m.group(1), m.group(2))
    items = re.search(rf"\b(?:{_ITEMS})\s+(?=overnight|by |in |within |over )", m.group(0))
    noun = items.group(0).strip() if items else "requests"
    if m.group(3):
        window, label = OVERNIGHT_S, "overnight (an 8-hour window)"
    else:
        n = float(m.group(4) or 1)
        if n <= 0:
            raise InvalidInputError(
                f"\u201c{m.group(0)}\u201d: no work fits in {n:g} {m.group(5)}; "
                "say how long the batch may take, e.g. 'in 6 hours'"
            )
        unit = next(u for u in _WINDOW_UNIT_S if m.group(5).startswith(u))
        window, label = n * _WINDOW_UNIT_S[unit], f"in {n:g} {m.group(5)}"
    qps = count / window
    return Volume(qps, f"{count:,.0f} {noun} {label} ÷ {window:,.0f} s = {qps:.3g} req/s", False)


WORDS_PER_PAGE = 500
_DOC_NOUNS = (
    r"documents?|docs|files|articles|reports|transcripts|contracts|emails|tickets|papers|filings|"
    r"manuals?|books?|chapters?|letters?|statements?|policies|policy|briefs?|memos?|pdfs?|agreements?"
)
_ABOUT = r"(?:about\s+|around\s+|roughly\s+|approximately\s+|up to\s+|~\s*)?"
_SIZE_UNIT = r"(pages?|words?)\b"
_DOC_SIZE_RE = re.compile(
    rf"(?<![\d.]){NUM}[\s-]*{_SIZE_UNIT}\s+(?:long\s+)?(?:[a-z\-]+\s+){{0,2}}?(?:each\b|(?:{_DOC_NOUNS})\b)"  # "20 pages each", "20-page legal contracts"
    rf"|\beach\s+(?:is\s+|of\s+|has\s+)?{_ABOUT}{NUM}\s*{_SIZE_UNIT}"  # "each about 20 pages"
    rf"|\b(?:{_DOC_NOUNS})\s+(?:of|are|average|averaging|with)\s+{_ABOUT}{NUM}\s*{_SIZE_UNIT}"  # "contracts of about 20 pages"
)


def find_document_size(t: str) -> tuple[int, str] | None:
    """(prompt tokens, how they follow) from a document size in pages or words, or None."""
    m = _DOC_SIZE_RE.search(t)
    if not m:
        return None
    first = next(i for i in (1, 4, 7) if m.group(i))
    count = to_number(m.group(first), m.group(first + 1))
    if count <= 0:
        raise InvalidInputError(
            f"\u201c{m.group(0)}\u201d: a document of {count:g} {m.group(first + 2)} has nothing to read; "
            "give its size, e.g. 'each about 20 pages' or '4000 tokens each'"
        )
    if m.group(first + 2).startswith("page"):
        words = count * WORDS_PER_PAGE
        basis = f"{count:,.0f} pages × {WORDS_PER_PAGE} words a page"
    else:
        words, basis = count, f"{count:,.0f} words"
    tokens = round(words / WORDS_PER_TOKEN)
    return tokens, f"{basis} ÷ {WORDS_PER_TOKEN} words a token = {tokens:,} tokens"
