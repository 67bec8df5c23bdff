"""The screen pop: who is calling, their card, their last calls and open callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.card import card
from callcenter.contacts.lookup import field_rules, find_by_number
from callcenter.contacts.models import Contact
from callcenter.dispositions.models import CallWrapup
from callcenter.phone import to_e164
from callcenter.policy import FieldRule, Viewer
from callcenter.recordings.models import Recording

LAST_CALLS = 5
# a caller who called within this many days before is marked a repeat caller
REPEAT_DAYS = 7


class PopData:
    """Everything a pop needs, read once; shaped per viewer by `for_viewer`."""

    def __init__(self, number: str | None, raw: str, contact: Contact | None,
                 calls: list[dict[str, Any]], callbacks: list[dict[str, Any]],
                 rules: dict[str, FieldRule], recent_calls: int = 0) -> None:
        self.number, self.raw, self.contact = number, raw, contact
        self.calls, self.callbacks = calls, callbacks
        self.rules = rules
        self.recent_calls = recent_calls

    def for_viewer(self, role: str, agent_name: str | None) -> dict[str, Any]:
        """The caller's own number is theirs to see in full: it is the caller's."""
        viewer = Viewer(role, own_number=self.number)
        return {
            "number": self.number or self.raw,
            "new": self.contact is None,
            "contact": card(self.contact, viewer, self.rules) if self.contact else None,
            # agents may play only their own calls' recordings
            "last_calls": [c if viewer.sees_everything or c["agent"] == agent_name
                           else {**c, "recordings": []} for c in self.calls],
            "open_callbacks": self.callbacks,
            "recent_calls": self.recent_calls,
            "repeat_caller": self.recent_calls > 0,
        }


async def last_calls(session: AsyncSession, number: str, limit: int) -> list[dict[str, Any]]:
    """A number's latest calls with their recordings, in one statement. The calls are two
    index-ordered reads (as caller, as called): an OR across both columns makes PostgreSQL
    walk the whole started_at index of a large table."""
    as_caller = (select(Call.id).where(Call.caller == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    as_called = (select(Call.id).where(Call.called == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    ids = union_all(as_caller.subquery().select(), as_called.subquery().select()).subquery()
    latest = (select(Call.id).where(Call.id.in_(select(ids.c.id)))
              .order_by(Call.started_at.desc()).limit(limit).subquery())
    rows = await session.execute(
        select(Call.id, Call.linkedid, Call.started_at, Call.direction, Call.queue,
               Call.outcome, Call.agent, Call.wait_seconds, Call.talk_seconds, Recording.id,
               CallWrapup.disposition_code)
        .join(latest, latest.c.id == Call.id)
        .outerjoin(Recording, Recording.linkedid == Call.linkedid)
        .outerjoin(CallWrapup, CallWrapup.linkedid == Call.linkedid)
        .order_by(Call.started_at.desc(), Call.id, Recording.id))
    calls: dict[int, dict[str, Any]] = {}
    for (call_id, linkedid, started_at, direction, queue, outcome, agent, wait, talk,
         recording_id, disposition) in rows:
        call = calls.setdefault(call_id, {
            "id": call_id, "linkedid": linkedid, "started_at": started_at.isoformat(),
            "direction": direction, "queue": queue, "outcome": outcome, "agent": agent,
            "wait_seconds": wait, "talk_seconds": talk, "disposition": disposition,
            "recordings": []})
        if recording_id is not None:
            call["recordings"].append(recording_id)
    return list(calls.values())


async def load_pop(session: AsyncSession, raw_number: str, region: str) -> PopData:
    number = to_e164(raw_number, region)
    contact = await find_by_number(session, number) if number else None
    calls: list[dict[str, Any]] = []
    callbacks: list[dict[str, Any]] = []
    recent = 0
    if number:
        calls = await last_calls(session, number, LAST_CALLS)
        since = datetime.now(UTC) - timedelta(days=REPEAT_DAYS)
        for column in (Call.caller, Call.called):  # each from its own (number, time) index
            recent += await session.scalar(
                select(func.count(Call.id)).where(column == number,
                                                  Call.started_at >= since)) or 0
        callbacks = [
            {"id": cb_id, "queue": queue, "requested_at": at.isoformat(), "source": source,
             "due_at": due.isoformat() if due else None, "assignee": assignee}
            for cb_id, queue, at, source, due, assignee in await session.execute(
                select(Callback.id, Callback.queue, Callback.requested_at, Callback.source,
                       Callback.due_at, Callback.assignee)
                .where(Callback.number == number, Callback.status == "open"))]
    return PopData(number, raw_number, contact, calls, callbacks, await field_rules(session),
                   recent)
