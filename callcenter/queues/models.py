"""A caller's stay in a queue: a call may pass through several queues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class QueueEntry(Base):
    __tablename__ = "queue_entries"
    __table_args__ = (UniqueConstraint("linkedid", "uniqueid", "entered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64))  # the caller's channel in the queue
    queue: Mapped[str] = mapped_column(String(80), index=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(80))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(24))


class QueueSettings(Base):
    """A queue's targets and alarm thresholds, set by admins; a queue without a row has the
    defaults (callcenter.queues.targets.DEFAULTS). Amber/red: a figure at or past the value
    (below it, for the service level) is shown in that colour; red can sound an alarm."""

    __tablename__ = "queue_settings"

    queue: Mapped[str] = mapped_column(String(80), primary_key=True)
    service_level_seconds: Mapped[int] = mapped_column(Integer)  # answered within this…
    service_level_target: Mapped[float] = mapped_column(Float)  # …this % of offered calls
    waiting_amber: Mapped[int] = mapped_column(Integer)
    waiting_red: Mapped[int] = mapped_column(Integer)
    longest_wait_amber: Mapped[int] = mapped_column(Integer)  # seconds
    longest_wait_red: Mapped[int] = mapped_column(Integer)
    service_level_amber: Mapped[float] = mapped_column(Float)  # % (lower is worse)
    service_level_red: Mapped[float] = mapped_column(Float)
    abandoned_amber: Mapped[float] = mapped_column(Float)  # % of offered
    abandoned_red: Mapped[float] = mapped_column(Float)
    sound_on_red: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(80))


class DisplayToken(Base):
    """A wall display's token: it reads the TV wallboard's feed and nothing else. Only its
    hash is kept; the token is shown once, when an admin creates it."""

    __tablename__ = "display_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
