"""Errors raised by the knowledge base.

    KbError                        base: every message is shown to a user as is
    ├── DatabaseUnavailableError   the database URL cannot be reached or opened
    ├── SeedDataError              a seed file under kb/data/ is malformed (names file, row, field)
    └── NotFoundError              a thread, plan or job id that is not stored

Messages name the database without its password and say what to do.
"""

from __future__ import annotations


class KbError(Exception):
    """Base class: the message is meant for the user."""


class DatabaseUnavailableError(KbError):
    """The database cannot be reached; the message names the URL (password hidden) and the fix."""


class SeedDataError(KbError):
    """A seed file is malformed: which file, which row, which field, and what is wrong."""

    def __init__(self, file: str, row: str | int | None, field: str | None, problem: str) -> None:
        self.file = file
        self.row = row
        self.field = field
        where = file
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")


class NotFoundError(KbError):
    """A thread, plan or job id that the knowledge base does not hold."""
