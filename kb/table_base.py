"""The declarative base shared by every table module: naming convention and portable types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        str: String(255),
        Json: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(timezone=True),
        dt.date: Date,
    }


def now_column() -> Any:
    """A timestamp column stamped by the database's clock when no value is given."""
    return mapped_column(DateTime(timezone=True), server_default=func.now())
