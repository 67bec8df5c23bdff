"""contact.changed: what a CRM needs to mirror our contacts."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.models import Contact
from callcenter.outbox.emit import emit


async def contact_changed(session: AsyncSession, contact: Contact,
                          change: Literal["created", "updated", "deleted", "forgotten"]) -> None:
    """In the transaction that changes the contact. A deleted or forgotten contact is named by
    its id only: nothing of the person is written again."""
    data: dict[str, object] = {"contact_id": contact.id, "change": change}
    if change in ("created", "updated"):
        data |= {"name": contact.name,
                 "numbers": [{"number": n.number, "label": n.label} for n in contact.numbers],
                 "email": contact.email, "notes": contact.notes, "vip": contact.vip,
                 "language": contact.language, "fields": dict(contact.fields or {})}
    await emit(session, "contact.changed", data, ordering_key=f"contact-{contact.id}")
