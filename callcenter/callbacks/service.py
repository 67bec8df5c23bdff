"""One open callback per number: a second request refreshes it; any later connected call with
that number closes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback


async def request_callback(session: AsyncSession, *, number: str, queue: str | None,
                           source: str, at: datetime, linkedid: str | None = None,
                           wait_seconds: float | None = None) -> Callback:
    existing = await session.scalar(
        select(Callback).where(Callback.number == number, Callback.status == "open"))
    if existing is not None:
        if at >= existing.requested_at:
            existing.requested_at, existing.linkedid = at, linkedid or existing.linkedid
            existing.queue = queue or existing.queue
            if wait_seconds is not None:
                existing.wait_seconds = wait_seconds
        return existing
    callback = Callback(number=number, queue=queue, source=source, requested_at=at,
                        linkedid=linkedid, wait_seconds=wait_seconds, status="open")
    session.add(callback)
    await session.flush()
    return callback


async def close_callbacks(session: AsyncSession, *, number: str, at: datetime,
                          linkedid: str) -> None:
    """A connected call with the number, after the request, means the customer was reached."""
    await session.execute(
        update(Callback)
        .where(Callback.number == number, Callback.status == "open",
               Callback.requested_at <= at)
        .values(status="done", closed_at=at, closed_by_linkedid=linkedid))
