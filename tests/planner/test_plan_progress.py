"""`plan(..., progress=...)`: the search reports each model as it sizes it, then where it ended."""

from __future__ import annotations

from planner.intent import extract
from planner.perf import default_params
from planner.pipeline import plan


def test_progress_counts_models_up_to_the_total(catalog) -> None:
    calls: list[tuple[int, int, str]] = []
    spec = extract("support chatbot for 1000 users, latency matters", catalog=catalog)
    result = plan(
        spec, catalog, params=default_params(), progress=lambda d, t, label: calls.append((d, t, label))
    )
    assert result.options and len(calls) >= 3
    totals = {t for _, t, _ in calls}
    assert len(totals) == 1 and (total := totals.pop()) > 1  # one total throughout
    done = [d for d, _, _ in calls]
    assert done[0] == 0 and done[-1] == total and done == sorted(done)
    assert len(done) == len(set(done))  # once per model, never twice the same count
    sized = [label for d, _, label in calls[1:-1]]
    assert sized and all(" on " in label for label in sized)  # "<model> on <GPU>"
    models = {m.id.rsplit("/", 1)[-1] for m in catalog.models}
    assert all(label.split(" on ")[0] in models for label in sized)


def test_progress_is_optional_and_changes_nothing(catalog) -> None:
    spec = extract("a coding assistant for 300 developers", catalog=catalog)
    quiet = plan(spec, catalog, params=default_params())
    heard = plan(spec, catalog, params=default_params(), progress=lambda *_: None)
    assert quiet == heard


def test_with_nothing_to_size_only_the_end_is_reported(catalog) -> None:
    calls: list[tuple[int, int, str]] = []
    spec = extract("chatbot for 100 users with Llama 3.1 70B on L4, budget $100 a month", catalog=catalog)
    result = plan(spec, catalog, params=default_params(), progress=lambda *c: calls.append(c))
    assert not result.options and [(d, t) for d, t, _ in calls] == [(0, 0)]
