"""Finding a caller among contacts by number, and the admins' declarations of card fields."""

from __future__ import annotations

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


async def field_rules(session: AsyncSession) -> dict[str, FieldRule]:
    """The declared kind and agent visibility of each card field, by name. A row without a
    kind (marked visible before kinds existed) is undeclared: hidden from agents."""
    return {name: FieldRule(Kind(kind) if kind else None, agent_visible)
            for name, kind, agent_visible in await session.execute(
                select(CardField.name, CardField.kind, CardField.agent_visible))}
