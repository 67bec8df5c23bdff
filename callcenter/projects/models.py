"""Projects, their list entries, do-not-call numbers and every attempt at a number.

An attempt is joined to its call record by the Linkedid (`calls.linkedid`): the ledger writes
the call as it writes any other, and nothing here adds columns to `calls`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # draft | running | paused | stopped
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    mode: Mapped[str] = mapped_column(String(16), default="preview",
                                      server_default="preview")  # preview | progressive
    caller_id: Mapped[str | None] = mapped_column(String(32))
    script_id: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # minutes until the next attempt after each result; null: never again
    retry_busy: Mapped[int | None] = mapped_column(Integer, default=10)
    retry_no_answer: Mapped[int | None] = mapped_column(Integer, default=60)
    retry_congestion: Mapped[int | None] = mapped_column(Integer, default=10)
    retry_failed: Mapped[int | None] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # calling hours in the callee's local time, minutes after midnight: [start, end)
    hours_start: Mapped[int] = mapped_column(Integer, default=9 * 60, server_default="540")
    hours_end: Mapped[int] = mapped_column(Integer, default=21 * 60, server_default="1260")
    ring_seconds: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # after a call, the agent is in wrap-up until they save a result or this runs out
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ProjectAgent(Base):
    __tablename__ = "project_agents"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True)
    agent: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class ProjectEntry(Base):
    """One number of a project's list. `state`: queued (due at `next_at`), calling, done,
    dnc (on a do-not-call list), skipped (by an agent, for good)."""

    __tablename__ = "project_entries"
    __table_args__ = (
        # the next number: WHERE project_id = ? AND state = 'queued' AND next_at <= now
        # ORDER BY next_at, id: one index range scan whatever the list's size
        Index("ix_project_entries_due", "project_id", "state", "next_at", "id"),
        UniqueConstraint("project_id", "phone"),
        Index("ix_project_entries_email", "project_id", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(160))
    phone: Mapped[str] = mapped_column(String(32))  # E.164
    email: Mapped[str | None] = mapped_column(String(160))
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    # the callee's time zones (IANA, comma-separated): calling hours must hold in every one
    timezones: Mapped[str] = mapped_column(Text, default="UTC")
    state: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_result: Mapped[str | None] = mapped_column(String(24))
    disposition: Mapped[str | None] = mapped_column(String(40))
    success: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_agent: Mapped[str | None] = mapped_column(String(80))
    skip_reason: Mapped[str | None] = mapped_column(String(200))
    # who has the card in preview mode (and since when): nobody else gets it meanwhile
    held_by: Mapped[str | None] = mapped_column(String(80))
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DncNumber(Base):
    """Do not call: `project_id` null for the global list."""

    __tablename__ = "dnc_numbers"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id",
                                                              ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ProjectAttempt(Base):
    """One dialled attempt: result from the channel, disposition from the agent."""

    __tablename__ = "project_attempts"
    __table_args__ = (UniqueConstraint("entry_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"),
                                            index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("project_entries.id", ondelete="CASCADE"),
                                          index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    agent: Mapped[str | None] = mapped_column(String(80), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # answered | busy | no_answer | congestion | invalid | failed | abandoned; null: in progress
    result: Mapped[str | None] = mapped_column(String(24), index=True)
    disposition: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(2000))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
