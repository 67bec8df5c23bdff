"""Callers to call back: those who asked (IVR) and those who gave up waiting (abandoned)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    queue: Mapped[str | None] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(16))  # ivr | abandoned | wrapup
    linkedid: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | done
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_linkedid: Mapped[str | None] = mapped_column(String(64))
    # scheduled by an agent at wrap-up: when to call, and whose it is (an agent name; None:
    # the team, i.e. whoever works the callback's queue)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    assignee: Mapped[str | None] = mapped_column(String(80), index=True)
