"""The outbox, webhook subscriptions and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime

# SQLite makes an INTEGER PRIMARY KEY a rowid alias (autoincrement); BIGINT would not be
EventId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """One event; `id` is the stream's cursor (increasing in commit order, see emit.py)."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_created_at", "created_at"),
                      Index("ix_outbox_events_ordering_key", "ordering_key", "type"))

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # what receivers dedupe on
    type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    ordering_key: Mapped[str] = mapped_column(String(80))
    # the agent the event concerns (agents' stream: their own events only)
    agent: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # unfiltered: policy applies on output
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMark(Base):
    """Named positions in the outbox, e.g. "purged_through": the last id retention deleted."""

    __tablename__ = "outbox_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(200))
    # what the receiver may see of personal data: agent | supervisor | admin (policy.py)
    role: Mapped[str] = mapped_column(String(16))
    # an admin allowed a loopback, link-local or private target for this subscription
    allow_private: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80))
    # the last outbox id fanned out into deliveries for this subscription
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookDelivery(Base):
    """One event for one subscription: pending (retried with back-off), delivered or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "outbox_id"),
        # the next delivery of each (subscription, key): the head of its line
        Index("ix_webhook_deliveries_line", "subscription_id", "ordering_key", "state", "id"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger)
    ordering_key: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(12))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # when retrying started (the 24 h window counts from here; redelivery restarts it)
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxStaged(Base):
    """Events a bulk writer (a contact import) committed with its change but not yet moved
    into the outbox: written without the ordering lock (no cursor of theirs is visible), then
    released into `outbox_events` in short chunks, in `id` order (staged.py)."""

    __tablename__ = "outbox_staged"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))  # kept by the outbox row
    type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    # an emitter of the same key claims these first (emit.py): indexed
    ordering_key: Mapped[str] = mapped_column(String(80), index=True)
    agent: Mapped[str | None] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
