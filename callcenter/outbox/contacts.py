"""contact.changed: what a CRM needs to mirror our contacts."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.contacts.models import Contact
from callcenter.outbox.emit import emit
from callcenter.outbox.models import OutboxEvent


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


async def forget_in_outbox(session: AsyncSession, contact: Contact) -> int:
    """Forgetting a person reaches the outbox too: the events of their calls and of their
    contact keep their ids, types and order, but their payloads become
    `{"forgotten": true}` (deliveries still pending send that). Call before the contact's
    numbers are erased (it finds the calls by them); returns the events scrubbed."""
    numbers = [n.number for n in contact.numbers]
    linkedids = list(await session.scalars(select(Call.linkedid).where(
        or_(Call.caller.in_(numbers), Call.called.in_(numbers), Call.contact_id == contact.id))))
    keys = [*linkedids, f"contact-{contact.id}"]
    scrubbed = 0
    for start in range(0, len(keys), 500):
        result = await session.execute(update(OutboxEvent).where(
            OutboxEvent.ordering_key.in_(keys[start:start + 500])).values(
            payload={"forgotten": True}))
        scrubbed += result.rowcount or 0
    return scrubbed
