"""GPU and model names in free text, resolved to catalog ids, with negation ("no H100s") and
demotion ("prefer L40S over H100").

Longest phrase first through the catalog's alias index; then family + size ("the 70B Llama") for
models and architecture names ("Hopper GPUs") for GPUs.
"""

from __future__ import annotations

import re

from planner.catalog import Catalog, normalise_name
from planner.intent_words import is_demoted, is_negated
from planner.types import GpuSpec

_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9.\-:_/]*[a-z0-9]|[a-z0-9]|[,.;!?()]")


def _lookup(catalog: Catalog, key: str, kind: str) -> str | None:
    """Catalog id for a normalised phrase (a trailing plural 's' dropped when needed)."""
    index = catalog._gpu_index if kind == "gpu" else catalog._model_index
    for candidate in (key, key[:-1] if key.endswith("s") else ""):
        if len(candidate) >= 2 and candidate in index:
            return index[candidate]
    return None


def find_names(t: str, catalog: Catalog, kind: str) -> tuple[list[str], list[str]]:
    """GPU (kind='gpu') or model ids named in the text: (wanted, excluded), longest phrase first."""
    tokens = [(m.group(0), m.start()) for m in _TOKEN_RE.finditer(t)]
    keys = [normalise_name(tok) for tok, _ in tokens]
    wanted: list[str] = []
    excluded: list[str] = []
    consumed: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        for n in range(min(5, len(tokens) - i), 0, -1):
            found = _lookup(catalog, "".join(keys[i : i + n]), kind) if keys[i] else None
            if found:
                start = tokens[i][1]
                target = excluded if is_negated(t, start) else [] if is_demoted(t, start) else wanted
                if found not in target:
                    target.append(found)
                if kind == "gpu" and target is excluded:  # "no A100": every A100, not one variant
                    named = "".join(keys[i : i + n]).removesuffix("s")
                    target += [g for g in _same_family(catalog, found, named) if g not in target]
                last_tok, last_start = tokens[i + n - 1]
                consumed.append((start, last_start + len(last_tok)))
                i += n
                break
        else:
            i += 1
    if kind == "model":
        _by_family_and_size(t, catalog, wanted, excluded, consumed)
    else:
        _by_architecture(t, catalog, wanted, excluded)
        _by_vendor(t, catalog, excluded)
    return [w for w in wanted if w not in excluded], excluded


_VENDORS = {"amd": "amd", "radeon": "amd", "instinct": "amd", "nvidia": "nvidia"}


def _by_vendor(t: str, catalog: Catalog, excluded: list[str]) -> None:
    """'no AMD' rules out every AMD GPU; 'NVIDIA only' (or 'only NVIDIA') every other vendor's."""
    for m in re.finditer(rf"\b({'|'.join(_VENDORS)})\b", t):
        vendor = _VENDORS[m.group(1)]
        if re.match(r"[/'’]|\s*(?:nemotron|models?|checkpoints?)\b", t[m.end() :]):  # a model's maker
            continue
        only = re.match(r"(?:\s+gpus?)?\s+only\b", t[m.end() :]) or re.search(
            r"\bonly\s+(?:use\s+|run\s+on\s+|on\s+)?$", t[max(m.start() - 16, 0) : m.start()]
        )
        if is_negated(t, m.start()):
            out = [g.id for g in catalog.gpus if g.vendor == vendor]
        elif only:
            out = [g.id for g in catalog.gpus if g.vendor != vendor]
        else:
            continue
        excluded += [g for g in out if g not in excluded]


def _gpu_family(gpu_id: str) -> str:
    """'A100-80GB' -> 'a100', 'H100-SXM' -> 'h100', 'L40S' -> 'l40s'."""
    return gpu_id.split("-")[0].lower()


def _same_family(catalog: Catalog, gpu_id: str, named: str) -> list[str]:
    """The catalog's variants of `gpu_id` when the text named just its family ('a100'), else none."""
    family = _gpu_family(gpu_id)
    if named != family:
        return []
    return [g.id for g in catalog.gpus if _gpu_family(g.id) == family]


_SIZE_RE = re.compile(r"\b(\d+(?:\.\d+)?)\s*b\b")


def _stem(family: str) -> str:
    """'llama3.1' -> 'llama', 'qwen2.5' -> 'qwen': the family word people say."""
    m = re.match(r"[a-z]+", family.lower())
    return m.group(0) if m and len(m.group(0)) >= 3 else ""


def _by_family_and_size(
    t: str, catalog: Catalog, wanted: list[str], excluded: list[str], consumed: list[tuple[int, int]]
) -> None:
    """'the 70B Llama', 'a qwen at 7b': a family named within a few words of a size in billions
    (neither part of a name already matched)."""

    def free(pos: int) -> bool:
        return not any(a <= pos < b for a, b in consumed)

    stems = sorted({_stem(m.family) for m in catalog.models if _stem(m.family)})
    for fam in stems:
        for fm in re.finditer(rf"\b{re.escape(fam)}\b", t):
            if not free(fm.start()):
                continue
            lo, hi = max(0, fm.start() - 25), fm.end() + 25
            sizes = [
                (abs(sm.start() - fm.start()), float(sm.group(1)))
                for sm in _SIZE_RE.finditer(t, lo, hi)
                if free(sm.start())
            ]
            if not sizes:
                continue
            size = min(sizes)[1]
            start = fm.start()
            fits = sorted(
                (
                    m
                    for m in catalog.models
                    if _stem(m.family) == fam and abs(m.params_total_b - size) <= 0.2 * size
                ),
                key=lambda m: abs(m.params_total_b - size),
            )
            if not fits or any(f.id in wanted or f.id in excluded for f in fits):
                continue
            target = excluded if is_negated(t, start) else [] if is_demoted(t, start) else wanted
            target.append(fits[0].id)


def _by_architecture(t: str, catalog: Catalog, wanted: list[str], excluded: list[str]) -> None:
    """'on Hopper GPUs': the architecture's most widely offered GPU (most priced providers, then the
    fastest memory), e.g. Hopper -> H100 SXM, Ampere -> A100 80GB."""

    def reach(g: GpuSpec) -> tuple[int, float]:
        return len(catalog.prices_for(g.id)), g.memory_bandwidth_gb_s

    wanted_before = bool(wanted)  # a GPU named outright wins over an architecture
    # bare "ada" only before a GPU word: "ADA compliance" is a law, not an architecture
    for m in re.finditer(
        r"\b(hopper|ampere|blackwell|ada lovelace|ada(?= (?:gpus?|cards?|generation|architecture)))\b", t
    ):
        family = [g for g in catalog.gpus if m.group(1).split()[0] in g.architecture.lower()]
        if is_negated(t, m.start()):  # 'no Hopper': every Hopper GPU
            excluded += [g.id for g in family if g.id not in excluded]
            continue
        gpu = max(family, key=reach, default=None)
        if gpu is None or gpu.id in wanted or gpu.id in excluded or wanted_before:
            continue
        wanted.append(gpu.id)
