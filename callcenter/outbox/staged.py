"""Staged events: how a bulk writer (a contact import, up to 200,000 events) reaches the
outbox without making every other emitter wait.

An emitter's events are inserted at its commit under the lock that orders outbox ids
(emit.py); an import's 200,000 would hold it for seconds, and the telephony writer saving
call records would wait behind them. So an import writes its events into `outbox_staged`
in its own transaction, batch by batch, with plain inserts and no lock (a staged row has no
cursor anyone can see): a rolled-back import stages nothing. `release` then moves them into
the outbox a chunk at a time, each chunk its own short transaction under the lock. Who
releases: the import itself right after its commit, and the webhook deliverer on each turn,
so staged rows a crash left behind (committed, not released) reach the outbox all the same.
Each staged row is claimed by one DELETE ... RETURNING under the lock: released once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.outbox.emit import COLUMNS, LOCK, Event, build_rows, queue_released
from callcenter.outbox.models import OutboxStaged

CHUNK = 500  # rows per release transaction: what the ordering lock is held for
log = logging.getLogger(__name__)


async def stage(session: AsyncSession, events: Iterable[Event]) -> int:
    """Writes events into the stage, in the caller's transaction (committed or rolled back
    with it), in the given order."""
    rows = build_rows(events)
    if rows:
        await session.execute(insert(OutboxStaged.__table__), rows)
    return len(rows)


async def release(sessions: async_sessionmaker[AsyncSession], *, chunk: int = CHUNK) -> int:
    """Moves every committed staged event into the outbox, oldest first, `chunk` at a time;
    returns how many. One indexed look when there are none."""
    table = OutboxStaged.__table__
    async with sessions() as session:  # alone: on SQLite a read turning into a write may fail
        if await session.scalar(select(table.c.id).limit(1)) is None:
            return 0
    released = 0
    while True:
        async with sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # before the claim: an emitter claiming a contact's staged rows holds the
                # lock and then deletes; taking them in the other order could deadlock
                await session.execute(LOCK)
            oldest = select(table.c.id).order_by(table.c.id).limit(chunk)
            claimed = (await session.execute(
                delete(table).where(table.c.id.in_(oldest))
                .returning(table.c.id, *(table.c[c] for c in COLUMNS)))).all()
            # RETURNING's order is not the ids': sorted here
            queue_released(session, (row._asdict() for row in
                                     sorted(claimed, key=lambda row: row.id)))
        released += len(claimed)
        if len(claimed) < chunk:
            return released


async def release_or_log(sessions: async_sessionmaker[AsyncSession]) -> int:
    """`release` where its failure must not undo or hide what was committed before (an
    import, a delivery turn): logged, and the rows stay staged for the deliverer's next turn."""
    try:
        return await release(sessions)
    except Exception as exc:
        log.error("staged outbox events not released yet", extra={"error": repr(exc)[:300]})
        return 0
