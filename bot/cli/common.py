"""Helpers shared by the command modules: settings, database session, error exits."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

EXIT_USAGE = 2  # unknown names, bad input: the same code Click uses for usage errors


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error for a person and exit with the given code."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn planner and knowledge-base errors into a clean message and exit code 2."""
    from planner.errors import PlannerError

    try:
        yield
    except PlannerError as exc:
        fail(str(exc))
