"""Agents (people at queue member interfaces) and the history of their states."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    interface: Mapped[str] = mapped_column(String(120), unique=True)  # e.g. PJSIP/1001


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"
    __table_args__ = (UniqueConstraint("agent", "queue", "state", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent: Mapped[str] = mapped_column(String(80), index=True)
    interface: Mapped[str] = mapped_column(String(120))
    queue: Mapped[str | None] = mapped_column(String(80))
    # login | logout | pause | unpause | ring_no_answer
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
