"""Customers: who is calling, in which language to greet them, whether they are VIP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.db import Base, UTCDateTime


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(160), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(8))
    # Further card fields (company, passport, address, ...): what agents see of each is
    # decided by the kind an admin declared for it (CardField; callcenter/policy.py).
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    # The customer asked not to be recorded: handled as settings.recording_opt_out says.
    recording_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    numbers: Mapped[list[ContactNumber]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin"
    )


class CardField(Base):
    """An admin's declaration of a card field: its kind (callcenter.policy.Kind) and whether
    agents may see it. The built-in notes are declared here too, under "notes"."""

    __tablename__ = "card_fields"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    agent_visible: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str | None] = mapped_column(String(24))


class ContactNumber(Base):
    __tablename__ = "contact_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164
    label: Mapped[str | None] = mapped_column(String(40))
    contact: Mapped[Contact] = relationship(back_populates="numbers")
