"""The screen pop: who is calling, their card, their last calls and open callbacks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.card import card
from callcenter.contacts.lookup import agent_visible_fields, find_by_number
from callcenter.contacts.models import Contact
from callcenter.phone import to_e164
from callcenter.recordings.models import Recording

LAST_CALLS = 5


class PopData:
    """Everything a pop needs, read once; shaped per viewer by `for_viewer`."""

    def __init__(self, number: str | None, raw: str, contact: Contact | None,
                 calls: list[Call], recordings: dict[str, list[int]],
                 callbacks: list[Callback], agent_visible: frozenset[str]) -> None:
        self.number, self.raw, self.contact = number, raw, contact
        self.calls, self.recordings, self.callbacks = calls, recordings, callbacks
        self.agent_visible = agent_visible

    def for_viewer(self, role: str, agent_name: str | None) -> dict[str, Any]:
        own = self.number
        return {
            "number": self.number or self.raw,
            "new": self.contact is None,
            "contact": card(self.contact, role=role, own_number=own,
                            agent_visible=self.agent_visible) if self.contact else None,
            "last_calls": [
                {"id": c.id, "linkedid": c.linkedid, "started_at": c.started_at.isoformat(),
                 "direction": c.direction, "queue": c.queue, "outcome": c.outcome,
                 "agent": c.agent, "wait_seconds": c.wait_seconds,
                 "talk_seconds": c.talk_seconds,
                 # agents may play only their own calls' recordings
                 "recordings": self.recordings.get(c.linkedid, [])
                 if role != "agent" or c.agent == agent_name else []}
                for c in self.calls
            ],
            "open_callbacks": [
                {"id": cb.id, "queue": cb.queue, "requested_at": cb.requested_at.isoformat(),
                 "source": cb.source}
                for cb in self.callbacks
            ],
        }


async def last_calls(session: AsyncSession, number: str, limit: int) -> list[Call]:
    """Two index-ordered reads (as caller, as called) in one statement: an OR across both
    columns makes PostgreSQL walk the whole started_at index of a large table."""
    as_caller = (select(Call.id).where(Call.caller == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    as_called = (select(Call.id).where(Call.called == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    ids = union_all(as_caller.subquery().select(), as_called.subquery().select()).subquery()
    return list(await session.scalars(
        select(Call).where(Call.id.in_(select(ids.c.id)))
        .order_by(Call.started_at.desc()).limit(limit)))


async def load_pop(session: AsyncSession, raw_number: str, region: str) -> PopData:
    number = to_e164(raw_number, region)
    contact = await find_by_number(session, number) if number else None
    calls: list[Call] = []
    callbacks: list[Callback] = []
    recordings: dict[str, list[int]] = {}
    if number:
        calls = await last_calls(session, number, LAST_CALLS)
        callbacks = list(await session.scalars(
            select(Callback).where(Callback.number == number, Callback.status == "open")))
        if calls:
            rows = await session.execute(
                select(Recording.linkedid, Recording.id)
                .where(Recording.linkedid.in_([c.linkedid for c in calls])))
            for linkedid, rec_id in rows:
                recordings.setdefault(linkedid, []).append(rec_id)
    visible = await agent_visible_fields(session)
    return PopData(number, raw_number, contact, calls, recordings, callbacks, visible)
