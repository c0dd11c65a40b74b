"""Helpers shared by the command modules: settings, database session, error exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from planner.catalog import Catalog

EXIT_USAGE = 2  # unknown names, bad input: the same code Click uses for usage errors
EXIT_ENVIRONMENT = 1  # the database or the seed files are not usable


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print a one-line error for a person and exit with the given code."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def list_hint(exc: Any) -> str:
    """'; `predeploy kb list gpus` lists them all' for an unknown model or GPU with nothing close."""
    kind = {"model": "models", "GPU": "gpus"}.get(exc.kind)
    return "" if exc.suggestions or kind is None else f"; `predeploy kb list {kind}` lists them all"


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn planner and knowledge-base errors into a clean message and an exit code.

    Unknown names and bad input exit 2; an unreachable database or broken seed files exit 1.
    """
    from kb.errors import DatabaseUnavailableError, KbError, NotFoundError, SeedDataError
    from planner.errors import PlannerError, UnknownNameError

    try:
        yield
    except UnknownNameError as exc:
        fail(f"{exc}{list_hint(exc)}")
    except PlannerError as exc:
        fail(str(exc))
    except (DatabaseUnavailableError, SeedDataError) as exc:
        fail(str(exc), EXIT_ENVIRONMENT)
    except NotFoundError as exc:
        fail(str(exc))
    except KbError as exc:
        fail(str(exc), EXIT_ENVIRONMENT)


# --- knowledge base -------------------------------------------------------------------------------
# One engine per database URL per process; the schema is upgraded and the seed loaded when the
# engine is first made, so `predeploy plan` works on a fresh machine without `kb init`.
_ENGINES: dict[str, Engine] = {}
_CATALOGS: dict[str, Catalog] = {}


def database_url() -> str:
    """DATABASE_URL, else the SQLite file in the user's data directory. The CLI's only read of it."""
    from kb.session import default_database_url

    return default_database_url(os.environ)


def ready_engine(url: str | None = None) -> Engine:
    """The engine for url (default: database_url()), migrated and seeded.

    Raises:
        DatabaseUnavailableError, SeedDataError: see kb.schema.ensure_ready.
    """
    from kb.schema import ensure_ready
    from kb.session import make_engine

    url = url or database_url()
    if url not in _ENGINES:
        engine = make_engine(url)
        try:
            ensure_ready(engine)
        except Exception:
            engine.dispose()
            raise
        _ENGINES[url] = engine
    return _ENGINES[url]


def forget_engines() -> None:
    """Dispose of cached engines and catalogs (tests, and after `kb init` reloads)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _CATALOGS.clear()


@contextmanager
def open_session() -> Iterator[Session]:
    """A session on the ready knowledge base; commits on success, rolls back on error.

    Knowledge-base errors become a one-line message and exit code (see user_errors).
    """
    from sqlalchemy.orm import Session

    with user_errors():
        session = Session(ready_engine(), expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def load_catalog_cached() -> Catalog:
    """The catalog (models, GPUs, prices, templates), read once per process and database."""
    from kb.repository import load_catalog

    url = database_url()
    if url not in _CATALOGS:
        with open_session() as session:
            _CATALOGS[url] = load_catalog(session=session)
    return _CATALOGS[url]
