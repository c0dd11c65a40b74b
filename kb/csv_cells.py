"""Reading seed CSVs: ragged rows and bad cells raise SeedDataError naming the file, row and column."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.errors import SeedDataError


def read_csv(path: Path, *, label: str, skip_ragged: bool = False) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (data row index from 1, row) pairs; a ragged row raises SeedDataError (or is skipped)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for index, row in enumerate(reader, start=1):
                if None in row or any(v is None for v in row.values()):
                    if skip_ragged:
                        continue
                    raise SeedDataError(
                        label, index, None, "has a different number of columns than the header"
                    )
                yield index, row
    except OSError as exc:
        raise SeedDataError(
            label, None, None, f"cannot be read ({exc.strerror}); restore it from git"
        ) from exc
    except csv.Error as exc:
        raise SeedDataError(label, None, None, f"is not valid CSV: {exc}") from exc


class Cells:
    """Typed access to one CSV row; errors name the file, the row id and the column."""

    def __init__(self, row: dict[str, str], *, file: str, row_id: str) -> None:
        self.row, self.file, self.row_id = row, file, row_id

    def text(self, name: str) -> str | None:
        if name not in self.row:
            raise SeedDataError(self.file, self.row_id, name, "column is missing from the header")
        value = self.row[name].strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise SeedDataError(self.file, self.row_id, name, "is empty")
        return value

    def number(self, name: str, *, allow_inf: bool = False) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        if allow_inf and value.lower() in ("inf", "infinity"):
            return math.inf
        try:
            number = float(value)
        except ValueError:
            raise SeedDataError(self.file, self.row_id, name, f"not a number: {value!r}") from None
        if not math.isfinite(number):
            raise SeedDataError(self.file, self.row_id, name, f"not a finite number: {value!r}")
        return number

    def whole(self, name: str) -> int | None:
        number = self.number(name)
        if number is None:
            return None
        if not number.is_integer():
            raise SeedDataError(self.file, self.row_id, name, f"not a whole number: {self.row[name]!r}")
        return int(number)


def number_or_text(value: str) -> Any:
    """An int or float when the text is one, else the text (for verbatim `extra` columns)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number
