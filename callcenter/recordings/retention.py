"""Recordings expire: a retention policy in days, by default and per queue."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.recordings.models import Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expired:
    recording_id: int
    linkedid: str
    queue: str | None
    path: str


async def purge_expired(session: AsyncSession, *, now: datetime, default_days: int,
                        days_by_queue: dict[str, int]) -> list[Expired]:
    """Deletes expired files and their rows; says what it deleted (log and audit)."""
    rows = await session.execute(
        select(Recording.id, Recording.linkedid, Recording.path, Recording.created_at,
               Call.queue).outerjoin(Call, Call.linkedid == Recording.linkedid))
    expired = []
    for rec_id, linkedid, path, created_at, queue in rows:
        days = days_by_queue.get(queue or "", default_days)
        if days > 0 and created_at < now - timedelta(days=days):
            expired.append(Expired(rec_id, linkedid, queue, path))
    for item in expired:
        await asyncio.to_thread(Path(item.path).unlink, missing_ok=True)
        audit(session, username="system", action="recording.expire", object_type="recording",
              object_id=item.recording_id, details=f"queue={item.queue} linkedid={item.linkedid}")
    if expired:
        await session.execute(delete(Recording).where(
            Recording.id.in_([e.recording_id for e in expired])))
    await session.commit()
    if expired:
        log.info("expired recordings deleted", extra={"count": len(expired)})
    return expired
