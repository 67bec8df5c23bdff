"""Finding a caller among contacts by number, as Asterisk or a person writes it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.models import CardField, Contact, ContactNumber


async def find_by_number(session: AsyncSession, e164: str) -> Contact | None:
    return await session.scalar(
        select(Contact).join(ContactNumber).where(ContactNumber.number == e164).limit(1)
    )


async def agent_visible_fields(session: AsyncSession) -> frozenset[str]:
    """The custom card fields an admin marked agent-visible."""
    return frozenset(await session.scalars(
        select(CardField.name).where(CardField.agent_visible.is_(True))))
