"""Create or upgrade the schema (Alembic, run in-process) and keep the seed data loaded.

`ensure_ready(engine)` is what every entry point calls: it upgrades to the newest migration when
the database is behind and reloads the seed when the files under kb/data/ changed, so a fresh
machine needs no separate `kb init`. On PostgreSQL an advisory lock keeps two processes that start
at once (bot and worker) from migrating or seeding twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

from kb.errors import DatabaseUnavailableError
from kb.session import IMMEDIATE, redact_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_431_001  # pg advisory lock id for schema and seed changes
# The newest migration. Kept here so that start-up can tell "up to date" with one SELECT and
# without importing Alembic (~0.2 s); tests/kb/test_schema.py checks it against Alembic's head.
HEAD_REVISION = "0002"


def alembic_config(*, extra_version_dirs: Sequence[Path] = ()) -> Config:
    """The Alembic configuration, built in code (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    dirs = [MIGRATIONS_DIR / "versions", *extra_version_dirs]
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", _join_paths(dirs))
    return cfg


def _join_paths(dirs: Sequence[Path]) -> str:
    return os.pathsep.join(str(d) for d in dirs)


def head_revision(*, extra_version_dirs: Sequence[Path] = ()) -> str | None:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    cfg = alembic_config(extra_version_dirs=extra_version_dirs)
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


@contextmanager
def schema_lock(conn: Connection) -> Iterator[None]:
    """Serialise schema and seed changes across processes (PostgreSQL; SQLite locks the file)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    yield


def upgrade(engine: Engine, revision: str = "head", *, extra_version_dirs: Sequence[Path] = ()) -> None:
    """Run `alembic upgrade <revision>` on this engine, in one transaction.

    Raises:
        DatabaseUnavailableError: the database refused the connection or the migration.
    """
    from alembic import command
    from alembic.util.exc import CommandError

    cfg = alembic_config(extra_version_dirs=extra_version_dirs)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{IMMEDIATE: True})
            with conn.begin(), schema_lock(conn):
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    except CommandError as exc:
        raise DatabaseUnavailableError(
            f"the database {redact_url(str(engine.url))} is at schema revision "
            f"{current_revision(engine)!r}, which this predeploy does not know ({exc}). "
            "Upgrade predeploy, or point DATABASE_URL at another database."
        ) from exc
    except DBAPIError as exc:
        raise DatabaseUnavailableError(
            f"cannot migrate the database {redact_url(str(engine.url))}: "
            f"{str(exc.orig).strip().splitlines()[0]}. Check that the user may create tables."
        ) from exc


def ensure_ready(engine: Engine, *, data_dir: Path | None = None) -> bool:
    """Upgrade the schema when behind and (re)load the seed when it changed.

    Returns True when the seed was (re)loaded.

    Raises:
        DatabaseUnavailableError: the database cannot be reached or migrated.
        SeedDataError: a seed file is malformed; the database is left as it was.
    """
    from kb.seed import load_seed_if_changed

    if current_revision(engine) != HEAD_REVISION:
        upgrade(engine)
    return load_seed_if_changed(engine, data_dir=data_dir)
