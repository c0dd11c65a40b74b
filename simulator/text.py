"""Deterministic text: the prompt-token count approximation and the generated words.

Token counting rule (documented in the README): a prompt is split on whitespace, and each word
counts as ceil(len(word) / 4) tokens, at least 1. So "tok tok tok" (the load generator's prompt of
N repeated words) is exactly N tokens, and ordinary prose is about 4 characters per token.
"""

from __future__ import annotations

import json
import random

# A small fixed vocabulary; every generated token is one word with a leading space.
WORDS: tuple[str, ...] = tuple(
    (
        "the of and to in is that for it as was with be by on not he this are or his from at which but"
        " have an they you were her she there one all we their can has more when will would if so no"
        " model token cache batch prefill decode latency queue engine block tensor stream request reply"
        " river stone cloud light green quiet north simple bright early paper window garden signal"
    ).split()
)
TOKEN_TEXTS: tuple[str, ...] = tuple(" " + w for w in WORDS)
TOKEN_JSON: tuple[bytes, ...] = tuple(
    json.dumps(t).encode() for t in TOKEN_TEXTS
)  # for the streaming hot path


def count_prompt_tokens(text: str) -> int:
    """Approximate token count of a text: ceil(len(word)/4) per whitespace-separated word, min 1 each."""
    words = text.split()
    if not words or max(map(len, words)) <= 4:
        return len(words)  # the common fast path: the load generator's "tok tok ..." prompts
    return sum((len(word) + 3) // 4 for word in words)


def text_seed(rng: random.Random) -> int:
    """Draw the starting offset of one response's words."""
    return rng.randrange(len(TOKEN_TEXTS))


def token_index(start: int, index: int) -> int:
    """Which vocabulary entry the index-th generated token of a response starting at `start` is."""
    return (start + index * 7) % len(TOKEN_TEXTS)


def token_text(start: int, index: int) -> str:
    """The index-th generated token (with its leading space) of the response whose words start at `start`."""
    return TOKEN_TEXTS[(start + index * 7) % len(TOKEN_TEXTS)]


def response_text(start: int, num_tokens: int) -> str:
    """The whole generated text of a response of `num_tokens` tokens."""
    return "".join(token_text(start, i) for i in range(num_tokens))
