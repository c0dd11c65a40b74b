"""Tables holding the state of each conversation thread (see kb.threads for the functions)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kb.table_base import Base, Json, now_column

# --- conversation threads -----------------------------------------------------------------------


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", "thread_ts"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    team_id: Mapped[str]
    channel_id: Mapped[str]
    thread_ts: Mapped[str]
    user_id: Mapped[str]
    status: Mapped[str]
    created_at: Mapped[dt.datetime] = now_column()
    updated_at: Mapped[dt.datetime] = now_column()


class ThreadMessage(Base):
    __tablename__ = "thread_messages"
    __table_args__ = (UniqueConstraint("thread_id", "ts"), UniqueConstraint("thread_id", "seq"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id"))
    seq: Mapped[int]
    user_id: Mapped[str]
    text: Mapped[str] = mapped_column(Text)
    ts: Mapped[str]
    # "request": part of the use case the spec is read from; "whatif": a question about a plan
    kind: Mapped[str] = mapped_column(String(16), default="request", server_default="request")


class SpecVersion(Base):
    __tablename__ = "spec_versions"

    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    spec: Mapped[Json]
    author: Mapped[str]
    created_at: Mapped[dt.datetime] = now_column()


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id"), index=True)
    spec_version: Mapped[int]
    result: Mapped[Json]
    created_at: Mapped[dt.datetime] = now_column()


class Choice(Base):
    __tablename__ = "choices"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    rank: Mapped[int]
    user_id: Mapped[str]
    at: Mapped[dt.datetime] = now_column()


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("plan_id", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    rank: Mapped[int]
    requested_by: Mapped[str]
    decided_by: Mapped[str | None]
    decision: Mapped[str]  # "pending" | "approved" | "rejected"
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = now_column()


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(primary_key=True)  # the RQ job id
    thread_id: Mapped[str | None] = mapped_column(ForeignKey("threads.id"), index=True)
    kind: Mapped[str]
    status: Mapped[str]
    error: Mapped[str | None] = mapped_column(Text)
    result_ref: Mapped[str | None]
    created_at: Mapped[dt.datetime] = now_column()
    updated_at: Mapped[dt.datetime] = now_column()
