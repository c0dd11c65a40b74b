"""The catalog the planner works from: models, GPUs, prices and use-case templates.

The knowledge base builds a `Catalog` once per request (or per process) and passes it in; every
lookup here resolves aliases case-insensitively and raises `UnknownNameError` with close matches.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from planner.errors import UnknownNameError
from planner.types import GpuPrice, GpuSpec, ModelSpec, SloTemplate


def normalise_name(name: str) -> str:
    """Lower-case and drop separators so that 'H100 80GB', 'h100-80gb' and 'H100_80GB' compare equal."""
    return re.sub(r"[\s_\-./:]+", "", name.strip().lower())


def _index(entries: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, aliases in entries.items():
        for name in (canonical, *aliases):
            index.setdefault(normalise_name(name), canonical)
    return index


@dataclass(frozen=True)
class Catalog:
    """Everything the planner may recommend, with alias resolution."""

    models: tuple[ModelSpec, ...]
    gpus: tuple[GpuSpec, ...]
    prices: tuple[GpuPrice, ...] = ()
    templates: tuple[SloTemplate, ...] = ()
    _model_index: dict[str, str] = field(init=False, repr=False, compare=False)
    _gpu_index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        model_names = {m.id: (m.name, m.id.split("/")[-1], *m.aliases) for m in self.models}
        object.__setattr__(self, "_model_index", _index(model_names))
        object.__setattr__(self, "_gpu_index", _index({g.id: (g.name, *g.aliases) for g in self.gpus}))

    def find_model(self, name: str) -> ModelSpec | None:
        """Return the model with this id, name or alias, or None."""
        canonical = self._model_index.get(normalise_name(name))
        return next((m for m in self.models if m.id == canonical), None)

    def model(self, name: str) -> ModelSpec:
        """Return the model with this id, name or alias.

        Raises:
            UnknownNameError: no model has that name; the message lists close matches.
        """
        found = self.find_model(name)
        if found is None:
            raise UnknownNameError(
                "model",
                name,
                suggestions=self._suggest(name, self._model_index),
                known=sorted(m.id.split("/")[-1] for m in self.models),
            )
        return found

    def find_gpu(self, name: str) -> GpuSpec | None:
        """Return the GPU with this id, name or alias, or None."""
        canonical = self._gpu_index.get(normalise_name(name))
        return next((g for g in self.gpus if g.id == canonical), None)

    def gpu(self, name: str) -> GpuSpec:
        """Return the GPU with this id, name or alias.

        Raises:
            UnknownNameError: no GPU has that name; the message lists close matches.
        """
        found = self.find_gpu(name)
        if found is None:
            raise UnknownNameError(
                "GPU",
                name,
                suggestions=self._suggest(name, self._gpu_index),
                known=sorted(g.id for g in self.gpus),
            )
        return found

    @staticmethod
    def _suggest(name: str, index: dict[str, str], n: int = 3) -> list[str]:
        """Canonical ids whose id, name or any alias is close to `name`, best first."""
        key = normalise_name(name)
        keys = difflib.get_close_matches(key, list(index), n=4 * n, cutoff=0.6)
        keys += [k for k in index if key and (key in k or k in key) and k not in keys]
        return list(dict.fromkeys(index[k] for k in keys))[:n]

    def template(self, use_case: str) -> SloTemplate:
        """Return the SLO template of a use case.

        Raises:
            UnknownNameError: no template for that use case.
        """
        key = normalise_name(use_case)
        for t in self.templates:
            if normalise_name(t.use_case) == key:
                return t
        raise UnknownNameError("use case", use_case, [t.use_case for t in self.templates])

    def prices_for(self, gpu_id: str, provider: str | None = None) -> tuple[GpuPrice, ...]:
        """Return the prices of a GPU (at one provider when given), cheapest first."""
        rows = [p for p in self.prices if p.gpu_id == gpu_id and (provider is None or p.provider == provider)]
        return tuple(sorted(rows, key=lambda p: p.hourly_usd_per_gpu))
