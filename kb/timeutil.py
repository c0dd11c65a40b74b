"""Datetimes in and out of the database: always timezone-aware UTC.

SQLite stores no time zone; PostgreSQL returns aware values. Callers pass aware datetimes in and
always get aware UTC datetimes back, whichever database it is.
"""

from __future__ import annotations

import datetime as dt


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive value is taken to be UTC already (SQLite, CURRENT_TIMESTAMP)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def to_db(value: dt.datetime) -> dt.datetime:
    """Aware UTC for PostgreSQL; SQLite drops the zone and keeps the UTC wall time."""
    if value.tzinfo is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone; pass an aware datetime (UTC)")
    return value.astimezone(dt.UTC)
