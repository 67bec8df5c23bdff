"""Dispositions (the outcome an agent gives a call), wrap-up policies, and the wrap-ups saved.

A wrap-up lives in its own table, keyed by the call's Linkedid, and not on the `calls` row:
the ledger replaces a call's row by a better-evidenced one, which must never lose what the
agent wrote.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime

SCOPES = ("queue", "project")
# the list (and policy) of calls without a queue, and of queues without their own
DEFAULT_KEY = "*"


class Disposition(Base):
    __tablename__ = "dispositions"
    __table_args__ = (UniqueConstraint("scope", "scope_key", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # queue | project
    scope_key: Mapped[str] = mapped_column(String(80))  # queue name, or project id as text
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(120))
    hotkey: Mapped[int | None] = mapped_column(Integer)  # 1-9
    is_success: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # no further attempts at that number (outbound)
    closes_number: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    retry_after_minutes: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class WrapupPolicy(Base):
    __tablename__ = "wrapup_policies"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0: none


class CallWrapup(Base):
    __tablename__ = "call_wrapups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    agent: Mapped[str] = mapped_column(String(80), index=True)
    disposition_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(2000))
    callback_id: Mapped[int | None] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
