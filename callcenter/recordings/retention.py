"""Recordings expire: a retention policy in days, by default and per queue."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import delete_recordings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expired:
    recording_id: int
    linkedid: str
    queue: str | None
    path: str


async def purge_expired(session: AsyncSession, *, now: datetime, default_days: int,
                        days_by_queue: dict[str, int], batch: int = 500) -> list[Expired]:
    """Deletes expired files and their rows; says what it deleted (log and audit).

    The database picks what expired (the loop never scans every recording), a batch at a
    time; each batch's files are deleted in one trip to a thread, then its rows."""
    queue = func.coalesce(Call.queue, "")
    rules = [and_(queue == name, Recording.created_at < now - timedelta(days=days))
             for name, days in days_by_queue.items() if days > 0]
    if default_days > 0:
        rules.append(and_(queue.not_in(list(days_by_queue)),
                          Recording.created_at < now - timedelta(days=default_days)))
    if not rules:
        return []
    expired: list[Expired] = []
    while True:
        rows = (await session.execute(
            select(Recording.id, Recording.linkedid, Call.queue, Recording.path)
            .outerjoin(Call, Call.linkedid == Recording.linkedid)
            .where(or_(*rules)).order_by(Recording.id).limit(batch))).all()
        if not rows:
            break
        found = [Expired(*row) for row in rows]
        await asyncio.to_thread(delete_recordings, [item.path for item in found])
        for item in found:
            audit(session, username="system", action="recording.expire",
                  object_type="recording", object_id=item.recording_id,
                  details=f"queue={item.queue} linkedid={item.linkedid}")
        await session.execute(delete(Recording).where(
            Recording.id.in_([item.recording_id for item in found])))
        await session.commit()
        expired += found
    if expired:
        log.info("expired recordings deleted", extra={"count": len(expired)})
    return expired

