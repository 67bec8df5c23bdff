"""Finding a caller among contacts by number, as Asterisk or a person writes it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from callcenter.contacts.models import CardField, Contact, ContactNumber


async def find_by_number(session: AsyncSession, e164: str) -> Contact | None:
    """The contact with its numbers, in one query."""
    owner = select(ContactNumber.contact_id).where(ContactNumber.number == e164)
    result = await session.scalars(
        select(Contact).where(Contact.id == owner.scalar_subquery())
        .options(joinedload(Contact.numbers)))
    return result.unique().first()


async def agent_visible_fields(session: AsyncSession) -> frozenset[str]:
    """The custom card fields an admin marked agent-visible."""
    return frozenset(await session.scalars(
        select(CardField.name).where(CardField.agent_visible.is_(True))))
