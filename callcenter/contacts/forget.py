"""Forgetting a customer: their personal data leaves contacts and call records, their
recordings are deleted; call statistics stay, with numbers replaced by a one-way hash."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact
from callcenter.dispositions.models import CallWrapup
from callcenter.recordings.models import Recording


def forgotten(number: str, key: bytes) -> str:
    """Keyed, so a known number cannot simply be hashed and looked up."""
    return "forgotten:" + hashlib.blake2b(number.encode(), key=key[:64], digest_size=8).hexdigest()


async def forget_contact(session: AsyncSession, contact: Contact, key: bytes) -> dict[str, int]:
    numbers = [n.number for n in contact.numbers]
    linkedids = list(await session.scalars(select(Call.linkedid).where(
        or_(Call.caller.in_(numbers), Call.called.in_(numbers), Call.contact_id == contact.id))))
    recordings = list(await session.scalars(select(Recording).where(
        Recording.linkedid.in_(linkedids))))
    for recording in recordings:
        await asyncio.to_thread(Path(recording.path).unlink, missing_ok=True)
    await session.execute(delete(Recording).where(Recording.linkedid.in_(linkedids)))
    for number in numbers:
        hashed = forgotten(number, key)
        await session.execute(update(Call).where(Call.caller == number).values(
            caller=hashed, caller_raw=None, caller_name=None))
        await session.execute(update(Call).where(Call.called == number).values(
            called=hashed, called_raw=None))
    await session.execute(update(Call).where(Call.contact_id == contact.id).values(
        contact_id=None, caller_name=None))
    await session.execute(delete(Callback).where(Callback.number.in_(numbers)))
    # what agents wrote about the person's calls goes too; the dispositions stay (statistics)
    notes = (await session.execute(update(CallWrapup).where(
        CallWrapup.linkedid.in_(linkedids), CallWrapup.note.is_not(None)).values(
        note=None))).rowcount
    await session.delete(contact)
    return {"calls": len(linkedids), "recordings": len(recordings), "numbers": len(numbers),
            "wrapup_notes": notes}
