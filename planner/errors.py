"""Errors raised by the planner.

    PlannerError                 base: every message is shown to a user as is
    ├── UnknownNameError         a model, GPU, use case or provider that is not in the catalog
    ├── InvalidInputError        a number or option out of its range
    └── DoesNotFitError          a model that does not fit the GPUs given

Messages give the fact, the numbers and the fix ("Llama-3.1-70B needs 141 GiB at bf16; one H100
has 80 GiB. Try tensor_parallel=2 or fp8."), because people read them in Slack.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(Exception):
    """Base class: the message is meant for the user."""


class UnknownNameError(PlannerError):
    """A name that the catalog does not know; carries close matches."""

    def __init__(
        self,
        kind: str,
        name: str,
        candidates: Iterable[str] = (),
        *,
        suggestions: list[str] | None = None,
        known: Iterable[str] = (),
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions if suggestions is not None else close_matches(name, candidates)
        if self.suggestions:
            hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
        else:  # nothing close: say what there is instead of leaving the user guessing
            names = list(known)
            shown = ", ".join(names[:KNOWN_SHOWN]) + (
                f" and {len(names) - KNOWN_SHOWN} more" if len(names) > KNOWN_SHOWN else ""
            )
            hint = f"; known {kind}s: {shown}" if names else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")


KNOWN_SHOWN = 20  # names an unknown-name error lists when none is close


class InvalidInputError(PlannerError):
    """A value out of range, with what the range is."""


class DoesNotFitError(PlannerError):
    """A model that does not fit in the memory of the GPUs given."""


def close_matches(name: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Return up to n candidates close to name (case-insensitive), best first; `cutoff` is difflib's
    similarity floor."""
    cands = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in cands}
    key = name.lower().strip()
    hits = [lowered[m] for m in difflib.get_close_matches(key, list(lowered), n=n, cutoff=cutoff)]
    if len(hits) < n:
        hits += [c for c in cands if key and key in c.lower() and c not in hits][: n - len(hits)]
    return hits
