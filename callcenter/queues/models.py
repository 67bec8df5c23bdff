"""A caller's stay in a queue: a call may pass through several queues."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, UniqueConstraint
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
