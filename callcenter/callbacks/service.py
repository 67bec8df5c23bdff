"""One open callback per number: a second request refreshes it; any later connected call with
that number closes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback
from callcenter.outbox.emit import Event, emit_many


@dataclass(frozen=True)
class CallbackChange:
    kind: Literal["request", "close"]
    number: str
    at: datetime
    linkedid: str | None
    queue: str | None = None
    source: str = "abandoned"
    wait_seconds: float | None = None


async def apply_changes(session: AsyncSession,
                        changes: Iterable[CallbackChange]) -> list[Callback]:
    """Applies requests and closes in order, reading the open callbacks once for all of them.
    Returns the callback each request ended in."""
    changes = list(changes)
    open_by_number = {cb.number: cb for cb in await session.scalars(select(Callback).where(
        Callback.number.in_({c.number for c in changes}), Callback.status == "open"))}
    requested = []
    created = []
    for change in changes:
        existing = open_by_number.get(change.number)
        if change.kind == "close":
            if existing is not None and existing.requested_at <= change.at:
                existing.status, existing.closed_at = "done", change.at
                existing.closed_by_linkedid = change.linkedid
                del open_by_number[change.number]
            continue
        if existing is None:
            existing = Callback(number=change.number, queue=change.queue, source=change.source,
                                requested_at=change.at, linkedid=change.linkedid,
                                wait_seconds=change.wait_seconds, status="open")
            session.add(existing)
            created.append(existing)
            open_by_number[change.number] = existing
        elif change.at >= existing.requested_at:
            existing.requested_at = change.at
            existing.linkedid = change.linkedid or existing.linkedid
            existing.queue = change.queue or existing.queue
            if change.wait_seconds is not None:
                existing.wait_seconds = change.wait_seconds
        requested.append(existing)
    await session.flush()
    # a refreshed request is the same callback: only a new one is announced
    await emit_many(session, [Event("callback.created", {
        "callback_id": cb.id, "number": cb.number, "queue": cb.queue, "source": cb.source,
        "linkedid": cb.linkedid, "requested_at": cb.requested_at,
        "wait_seconds": cb.wait_seconds}, cb.linkedid or f"callback-{cb.id}")
        for cb in created])
    return requested


async def request_callback(session: AsyncSession, *, number: str, queue: str | None,
                           source: str, at: datetime, linkedid: str | None = None,
                           wait_seconds: float | None = None) -> Callback:
    [callback] = await apply_changes(session, [CallbackChange(
        "request", number, at, linkedid, queue, source, wait_seconds)])
    return callback
