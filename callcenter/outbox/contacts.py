"""contact.changed: what a CRM needs to mirror our contacts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.contacts.models import Contact
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.models import OutboxEvent

if TYPE_CHECKING:
    from callcenter.contacts.importer import NewContact


Change = Literal["created", "updated", "deleted", "forgotten"]


def contact_changed_event(contact: Contact | NewContact, change: Change) -> Event:
    """The one contact.changed payload, of a stored contact or of one a contact import
    creates (plain data, numbers without labels). A deleted or forgotten contact is named by
    its id only: nothing of the person is written again."""
    data: dict[str, object] = {"contact_id": contact.id, "change": change}
    if change in ("created", "updated"):
        numbers = [{"number": n, "label": None} if isinstance(n, str)
                   else {"number": n.number, "label": n.label} for n in contact.numbers]
        data |= {"name": contact.name, "numbers": numbers,
                 "email": contact.email, "notes": contact.notes, "vip": contact.vip,
                 "language": contact.language, "fields": dict(contact.fields or {})}
    return Event("contact.changed", data, f"contact-{contact.id}")


async def contact_changed(session: AsyncSession, contact: Contact, change: Change) -> None:
    """In the transaction that changes the contact."""
    await emit_many(session, [contact_changed_event(contact, change)])


async def forget_in_outbox(session: AsyncSession, contact: Contact) -> int:
    """Forgetting a person reaches the outbox too: the events of their calls and of their
    contact keep their ids, types and order, but their payloads become
    `{"forgotten": true}` (deliveries still pending send that). Call before the contact's
    numbers are erased (it finds the calls by them); returns the events scrubbed. The
    contact's events an import staged and not yet released are scrubbed at this transaction's
    commit, as the contact.changed `forgotten` it emits takes them along (emit.py)."""
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
