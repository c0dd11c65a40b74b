"""Shared fixtures. Keep each block generic; add new blocks below with a heading."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# --- databases --------------------------------------------------------------------------------------
# sqlite_url: a fresh SQLite file per test. pg_url: a fresh, uniquely named database on the local
# PostgreSQL (127.0.0.1:5432, trust auth, user postgres or root), dropped afterwards; skipped when
# the server is unreachable, except under CI where that is a failure. `engine` runs a test on both.

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USERS = ("postgres", "root")
KB_FIXTURE_DATA = Path(__file__).parent / "kb" / "data"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kb.db'}"


def _pg_admin() -> tuple[object, str]:
    import psycopg

    errors = []
    for user in PG_USERS:
        for dbname in ("test", "postgres"):
            try:
                conn = psycopg.connect(
                    host=PG_HOST, port=PG_PORT, user=user, dbname=dbname, autocommit=True, connect_timeout=3
                )
            except psycopg.Error as exc:
                errors.append(f"{user}@{dbname}: {str(exc).strip().splitlines()[0]}")
                continue
            return conn, user
    raise ConnectionError("; ".join(errors))


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it. Skips (fails under CI) without a server."""
    try:
        admin, user = _pg_admin()
    except ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} is required under CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable: {exc}")
    name = f"predeploy_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL on SQLite and, as a second run, on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Iterator[object]:
    """An engine on an empty database (SQLite and PostgreSQL), disposed afterwards."""
    from kb.session import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def _pg_migrated_url() -> Iterator[str]:
    """One PostgreSQL database per test run, migrated to head once (see migrated_engine)."""
    from kb.schema import upgrade
    from kb.session import make_engine

    with fresh_pg_database() as url:
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An engine on a database at the newest migration with every table empty (SQLite and PostgreSQL).

    PostgreSQL reuses one migrated database per run and empties it before each test, because
    creating and migrating a database costs about two seconds there.
    """
    from kb.schema import upgrade
    from kb.session import make_engine
    from kb.tables import Base

    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
        upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("_pg_migrated_url"))
        with eng.begin() as conn:  # DELETE, not TRUNCATE: far cheaper on tables this small
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    yield eng
    eng.dispose()


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """DATABASE_URL points at a tmp SQLite file, so no test touches the user's data directory."""
    from bot.cli.common import forget_engines

    url = f"sqlite:///{tmp_path / 'isolated.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    forget_engines()
    yield url
    forget_engines()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated and loaded with the real kb/data seed, built once per test run."""
    from kb.schema import ensure_ready
    from kb.session import make_engine

    path = tmp_path_factory.mktemp("seeded") / "kb.db"
    eng = make_engine(f"sqlite:///{path}")
    ensure_ready(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


@pytest.fixture
def seeded_env(isolated_env: str, seeded_sqlite_template: Path) -> str:
    """isolated_env, with the database already holding the real seed (a copy of the template)."""
    target = Path(isolated_env.removeprefix("sqlite:///"))
    shutil.copyfile(seeded_sqlite_template, target)
    return isolated_env
