"""Finding a caller among contacts by number, and the admins' declarations of card fields."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from callcenter.contacts.models import CardField, Contact, ContactNumber
from callcenter.policy import FieldRule, Kind


async def find_by_number(session: AsyncSession, e164: str) -> Contact | None:
    """The contact with its numbers, in one query."""
    owner = select(ContactNumber.contact_id).where(ContactNumber.number == e164)
    result = await session.scalars(
        select(Contact).where(Contact.id == owner.scalar_subquery())
        .options(joinedload(Contact.numbers)))
    return result.unique().first()


class Caller(NamedTuple):
    """What the dialplan needs to know about a caller, and nothing personal beyond the name."""

    id: int
    name: str
    vip: bool
    language: str | None
    recording_opt_out: bool


async def caller_by_number(session: AsyncSession, e164: str) -> Caller | None:
    """For FastAGI: one plain-row query, no ORM objects and none of the contact's other
    numbers; less work on the loop that every call waits for."""
    row = (await session.execute(
        select(Contact.id, Contact.name, Contact.vip, Contact.language,
               Contact.recording_opt_out)
        .join(ContactNumber, ContactNumber.contact_id == Contact.id)
        .where(ContactNumber.number == e164).limit(1))).first()
    return Caller(*row) if row is not None else None


async def field_rules(session: AsyncSession) -> dict[str, FieldRule]:
    """The declared kind and agent visibility of each card field, by name. A row without a
    kind (marked visible before kinds existed) is undeclared: hidden from agents."""
    return {name: FieldRule(Kind(kind) if kind else None, agent_visible)
            for name, kind, agent_visible in await session.execute(
                select(CardField.name, CardField.kind, CardField.agent_visible))}
