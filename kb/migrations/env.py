"""Alembic environment: migrates the database the caller passes in (kb.schema.upgrade).

Run by hand with `alembic -c kb/alembic.ini upgrade head` (uses DATABASE_URL or the default file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from kb.session import default_database_url, make_engine, normalise_url
from kb.tables import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = normalise_url(config.get_main_option("sqlalchemy.url") or default_database_url())
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or default_database_url())
    try:
        with engine.begin() as conn:
            _configure_and_run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
