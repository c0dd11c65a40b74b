from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from kb.errors import DatabaseUnavailableError
from kb.session import default_database_url, make_engine, normalise_url, redact_url


def test_database_url_comes_from_the_environment() -> None:
    assert default_database_url({"DATABASE_URL": "postgresql://u@h/db"}) == "postgresql://u@h/db"


def test_default_is_a_sqlite_file_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = default_database_url({})
    assert url == f"sqlite:///{tmp_path / 'predeploy' / 'predeploy.db'}"
    assert (tmp_path / "predeploy").is_dir()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg3(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_redact_url_hides_the_password() -> None:
    redacted = redact_url("postgresql://alice:s3cret@db.example:5432/kb")
    assert "s3cret" not in redacted
    assert "alice" in redacted and "db.example" in redacted


def test_unreachable_database_names_the_url_without_password() -> None:
    with pytest.raises(DatabaseUnavailableError) as err:
        make_engine("postgresql://alice:s3cret@127.0.0.1:1/kb")
    message = str(err.value)
    assert "s3cret" not in message
    assert "postgresql://alice:***@127.0.0.1:1/kb" in message and "DATABASE_URL" in message


def test_malformed_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailableError, match="cannot open the database"):
        make_engine("nosuchdialect://x")


def test_sqlite_engine_enforces_foreign_keys_and_wal(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'kb.db'}")
    engine.dispose()
    assert (tmp_path / "a" / "b").is_dir()


def test_an_unwritable_sqlite_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseUnavailableError, match="cannot open the database sqlite:///"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'kb.db'}")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not a SQLite database " * 10)
    with pytest.raises(DatabaseUnavailableError, match="file is not a database. Check the file's path"):
        make_engine(f"sqlite:///{path}")
