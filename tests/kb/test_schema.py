from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from kb.schema import HEAD_REVISION, current_revision, ensure_ready, head_revision, upgrade
from kb.seed import load_seed
from kb.tables import Base, ModelCatalog
from kb.threads import add_message, get_or_create_thread

FIXTURE_DATA = Path(__file__).parent / "data"
EXTRA_VERSIONS = Path(__file__).parent / "migrations_extra"


def test_head_revision_constant_matches_the_newest_migration() -> None:
    assert HEAD_REVISION == head_revision()


def test_upgrade_on_an_empty_database_creates_every_table(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0002"
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_migration_matches_the_tables(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_upgrade_twice_on_a_filled_database_keeps_every_row(engine: Engine) -> None:
    upgrade(engine)
    load_seed(engine, data_dir=FIXTURE_DATA)
    with Session(engine) as session, session.begin():
        thread = get_or_create_thread(
            session=session, team_id="T", channel_id="C", thread_ts="1.0", user_id="U"
        )
        add_message(session=session, thread_id=thread.id, user_id="U", text="hello", ts="1.0")
    before = _counts(engine)
    upgrade(engine)
    ensure_ready(engine, data_dir=FIXTURE_DATA)
    assert _counts(engine) == before


def test_a_later_migration_upgrades_a_filled_database_without_loss(engine: Engine) -> None:
    upgrade(engine)
    load_seed(engine, data_dir=FIXTURE_DATA)
    before = _counts(engine)
    upgrade(engine, extra_version_dirs=[EXTRA_VERSIONS])
    assert current_revision(engine) == "0002_test"
    assert _counts(engine) == before
    columns = {c["name"] for c in inspect(engine).get_columns("model_catalog")}
    assert "test_note" in columns
    with Session(engine) as session:
        ids = session.scalars(select(ModelCatalog.model_id)).all()
    assert "meta-llama/Llama-3.1-8B-Instruct" in ids


def test_ensure_ready_migrates_and_seeds_a_fresh_database(engine: Engine) -> None:
    assert ensure_ready(engine, data_dir=FIXTURE_DATA) is True
    assert ensure_ready(engine, data_dir=FIXTURE_DATA) is False
    assert _counts(engine)["model_catalog"] == 3


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one())
            for name in Base.metadata.tables
        }


def test_two_processes_getting_ready_at_once_both_succeed(db_url: str) -> None:
    """A bot and a worker starting together on a fresh database: one migrates and seeds, the other waits."""
    import threading

    from kb.session import make_engine

    engines = [make_engine(db_url) for _ in range(2)]
    errors: list[BaseException] = []
    results: list[bool] = []

    def ready(eng: Engine) -> None:
        try:
            results.append(ensure_ready(eng, data_dir=FIXTURE_DATA))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=ready, args=(eng,)) for eng in engines]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    for eng in engines:
        eng.dispose()
    assert errors == []
    assert sorted(results) == [False, True]


def test_a_failed_migration_changes_nothing(engine: Engine) -> None:
    import pytest

    from kb.errors import DatabaseUnavailableError

    upgrade(engine)
    with pytest.raises(DatabaseUnavailableError, match="cannot migrate the database"):
        upgrade(engine, extra_version_dirs=[Path(__file__).parent / "migrations_broken"])
    assert current_revision(engine) == "0002"
    assert "half_done" not in inspect(engine).get_table_names()


def test_a_database_from_a_newer_predeploy_is_a_clear_error(engine: Engine) -> None:
    import pytest

    from kb.errors import DatabaseUnavailableError

    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(DatabaseUnavailableError, match="schema revision '9999_future'.*Upgrade predeploy"):
        ensure_ready(engine, data_dir=FIXTURE_DATA)
