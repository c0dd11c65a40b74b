"""Typed field access for seed rows: every failure names the file, the row and the field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from kb.errors import SeedDataError

_MISSING: Any = object()


class Fields:
    """One row of a seed file, read field by field with type checks."""

    def __init__(self, data: object, *, file: str, row: str | int) -> None:
        if not isinstance(data, Mapping):
            raise SeedDataError(file, row, None, f"expected an object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.file = file
        self.row = row
        self.used: set[str] = set()

    def error(self, name: str | None, problem: str) -> SeedDataError:
        return SeedDataError(self.file, self.row, name, problem)

    def _get(self, name: str, default: Any) -> Any:
        self.used.add(name)
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise self.error(name, "is missing" if value is _MISSING else "is null")
            return default
        return value

    def str_(self, name: str, default: Any = _MISSING, *, non_empty: bool = True) -> Any:
        value = self._get(name, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.error(name, f"expected text, got {value!r}")
        if non_empty and not value.strip():
            raise self.error(name, "is empty")
        return value

    def float_(self, name: str, default: Any = _MISSING, *, minimum: float | None = None) -> Any:
        value = self._get(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.error(name, f"expected a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum:g}, got {value!r}")
        return float(value)

    def positive(self, name: str, default: Any = _MISSING) -> Any:
        value = self.float_(name, default)
        if value is not None and value is not default and value <= 0:
            raise self.error(name, f"must be greater than 0, got {value!r}")
        return value

    def int_(self, name: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        value = self._get(name, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise self.error(name, f"expected a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value!r}")
        return int(value)

    def bool_(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}")
        return value

    def str_list(self, name: str, *, required: bool = False) -> list[str]:
        value = self._get(name, _MISSING if required else [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, f"expected a list of text, got {value!r}")
        return list(value)

    def mapping(self, name: str, default: Any = _MISSING) -> Any:
        value = self._get(name, default)
        if not isinstance(value, Mapping):
            raise self.error(name, f"expected an object, got {value!r}")
        return dict(value)

    def choice(self, name: str, allowed: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.str_(name, default)
        if value not in allowed:
            raise self.error(name, f"must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def iso_date(self, name: str) -> dt.date:
        value = self.str_(name)
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            raise self.error(name, f"expected an ISO date (YYYY-MM-DD), got {value!r}") from None

    def sub(self, name: str) -> Fields:
        """The nested object under `name`, with errors naming `name.field`."""
        value = self._get(name, _MISSING)
        nested = Fields(value, file=self.file, row=self.row) if isinstance(value, Mapping) else None
        if nested is None:
            raise self.error(name, f"expected an object, got {value!r}")
        return _Prefixed(nested, name)

    def rest(self) -> dict[str, Any]:
        """Keys no column took: stored verbatim in the row's details."""
        return {k: v for k, v in self.data.items() if k not in self.used}


class _Prefixed(Fields):
    def __init__(self, inner: Fields, prefix: str) -> None:
        super().__init__(inner.data, file=inner.file, row=inner.row)
        self.prefix = prefix

    def error(self, name: str | None, problem: str) -> SeedDataError:
        return SeedDataError(self.file, self.row, f"{self.prefix}.{name}" if name else self.prefix, problem)


def row_label(index: int, data: object, key: str) -> str:
    """'3 (id 'x')' when the row has an id, else the index."""
    if isinstance(data, Mapping) and isinstance(data.get(key), str):
        return f"{index} ({key} {data[key]!r})"
    return str(index)
