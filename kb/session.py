"""Engines and sessions: which database, and how to connect to it.

`DATABASE_URL` selects the database (PostgreSQL in production); without it the knowledge base is a
SQLite file in the user's data directory, created on first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from kb.errors import DatabaseUnavailableError

APP_NAME = "predeploy"
IMMEDIATE = "kb_write_lock"  # execution option: on SQLite, BEGIN IMMEDIATE instead of BEGIN


def default_database_url(environ: Mapping[str, str] = os.environ) -> str:
    """Return DATABASE_URL, else a SQLite file in the user's data directory (created here)."""
    url = environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    data_dir = Path(platformdirs.user_data_dir(APP_NAME))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'predeploy.db'}"


def normalise_url(url: str) -> str:
    """Map plain postgresql:// (and postgres://) URLs to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """Return the URL with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def _unavailable(url: str, why: object) -> DatabaseUnavailableError:
    reason = (str(why).strip().splitlines() or [type(why).__name__])[0]
    if url.startswith("sqlite"):
        fix = "Check the file's path and permissions (it must be a SQLite database), or set DATABASE_URL."
    else:
        fix = "Check that the server is running and DATABASE_URL is right, or unset it to use a local file."
    return DatabaseUnavailableError(f"cannot open the database {redact_url(url)}: {reason}. {fix}")


def make_engine(url: str) -> Engine:
    """Create an engine and check that it connects.

    SQLite gets foreign keys, WAL and cross-thread use; postgresql:// URLs use psycopg 3.

    Raises:
        DatabaseUnavailableError: the URL is malformed or the database cannot be reached.
    """
    given, url = url, normalise_url(url)
    is_sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False}
        try:
            _ensure_sqlite_dir(url)
        except (OSError, ArgumentError) as exc:
            raise _unavailable(given, exc) from exc
    else:
        kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise _unavailable(given, exc) from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite begins a transaction only at the first INSERT/UPDATE/DELETE, so plain reads see
        # the latest commit and a read-then-write never fails on a stale snapshot. Migrations and
        # seed loads ask for the write lock up front instead (see IMMEDIATE), which also makes
        # their DDL part of the transaction: all-or-nothing.
        event.listen(engine, "begin", _sqlite_begin)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (DBAPIError, OSError) as exc:
        engine.dispose()
        raise _unavailable(given, getattr(exc, "orig", exc)) from exc
    return engine


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # The write lock at BEGIN: what the transaction reads stays true until it commits.
    if conn.get_execution_options().get(IMMEDIATE, False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (callers convert them to planner types)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
