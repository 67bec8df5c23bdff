"""Writes finished calls and agent states in batches, off the event-reading path.

Writes are idempotent (keyed on Linkedid, Uniqueid, recording path, ...), so a batch retried
after a database outage never writes a call twice. While the database is down, records wait in
memory and are retried with back-off; nothing is dropped. Past `max_in_memory` pending records,
new ones are spilled to a file in the spool directory, in order, and read back as the database
catches up (JSON lines with field names: see spool.py). A record the database refuses while
it is up (bad data) would block every record behind it: it is set aside, whole, as a JSON line
in the dead-letter file, and the rest go on; `callcenter spool replay` retries them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.agents.models import AgentStateChange
from callcenter.calls.persist import row_of as _row
from callcenter.calls.persist import save_calls
from callcenter.calls.spool import DeadLetters, RecordCodec, Replayed, Spool
from callcenter.calls.tracker import AgentStateRecord, CallRecord
from callcenter.db import ping, upsert
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.live import LiveCallEvent

log = logging.getLogger(__name__)

Record = CallRecord | AgentStateRecord | LiveCallEvent
# How records are kept on disk (spill and dead-letter files): by field name.
CODEC = RecordCodec((CallRecord, AgentStateRecord, LiveCallEvent))


_STATE_FIELDS = ("agent", "interface", "queue", "state", "reason", "at")


class RecordWriter:
    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                 *, dead_letter: Path, keep_unanswered_recordings: bool = False,
                 delete_opted_out: bool = True,
                 final: bool = True,
                 batch_size: int = 500, max_backoff: float = 10.0,
                 max_in_memory: int = 50_000, gather_seconds: float = 0.01) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self.dead_letter = dead_letter
        self.dead_letters = DeadLetters(dead_letter, CODEC)
        self.keep_unanswered_recordings = keep_unanswered_recordings
        self.delete_opted_out = delete_opted_out
        # False while a ledger is configured: these records are provisional, the ledger's final
        self.final = final
        self.max_in_memory = max_in_memory
        # a moment to let records gather: one transaction for many, not one for each
        self.gather_seconds = gather_seconds
        self.spill_file = dead_letter.with_name("pending-records.jsonl")
        self._queue: deque[Record] = deque()
        self._spool = Spool(self.spill_file, CODEC, on_undecodable=self._set_aside_line,
                            on_unspilled=self._queue.extend)
        if self._spool.count:
            log.warning("records left by a previous run will be written",
                        extra={"file": str(self.spill_file), "pending": self._spool.count})
        self.spilled_total = 0
        self._sessions = sessions
        self._wakeup = asyncio.Event()
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.written = 0
        self.set_aside = 0
        self.database_up = True
        self._idle = asyncio.Event()
        if not self._spool.count:
            self._idle.set()
        # (records submitted so far, when): how long the oldest unwritten record has waited
        self._submitted = self._spool.count
        self._marks: deque[tuple[int, float]] = deque()
        if self._spool.count:
            self._marks.append((self._spool.count, time.monotonic()))

    def submit(self, records: list[Record]) -> None:
        """Never waits for the database: the AMI reader hands records over and reads on."""
        if not records:
            return
        self._submitted += len(records)
        self._marks.append((self._submitted, time.monotonic()))
        if self._spool.count or len(self._queue) + len(records) > self.max_in_memory:
            self._spill(records)  # once spilling, everything goes behind, to keep the order
        else:
            self._queue.extend(records)
        self._idle.clear()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._queue) + self._spool.count

    def health(self) -> dict[str, object]:
        """For /health: how far behind the database the writer is."""
        return {"pending": self.pending, "in_memory": len(self._queue),
                "spilled": self._spool.count, "set_aside": self.set_aside,
                "written": self.written, "database_up": self.database_up}

    def lag(self) -> float:
        """Seconds the oldest record not yet written has been waiting (0: none waiting)."""
        for submitted, at in self._marks:
            if submitted > self.written:
                return time.monotonic() - at
        return 0.0

    def _spill(self, records: list[Record]) -> None:
        if not self._spool.count:
            log.warning("records spilled to disk while the database is behind",
                        extra={"file": str(self.spill_file), "in_memory": len(self._queue)})
        self._spool.put(records)
        self.spilled_total += len(records)

    async def save_pending(self) -> None:
        """On the way out with the database behind: what is still in memory goes to the spill
        file, ahead of what is there already, so the next start writes it all in order."""
        records = list(self._queue)
        self._queue.clear()
        await self._spool.put_ahead(records)
        if self._spool.count:
            log.warning("records not yet written saved for the next start",
                        extra={"file": str(self.spill_file), "pending": self._spool.count})

    async def close(self) -> None:
        """Waits for the spill file work already asked for; lets the spool's thread go."""
        await self._spool.close()

    async def drain(self, timeout: float | None = None) -> None:
        """Waits until everything submitted so far is in the database."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def run(self) -> None:
        backoff = 0.5
        while True:
            if not self._queue and self._spool.count:
                self._queue.extend(await self._spool.take(self.max_in_memory // 2))
                continue  # lines that were no record may have left memory empty
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                if len(self._queue) < self.batch_size:
                    await asyncio.sleep(self.gather_seconds)
                continue
            batch = [self._queue[i] for i in range(min(self.batch_size, len(self._queue)))]
            try:
                await self._write(batch)
            except Exception as exc:
                if await ping(self._engine):
                    await self._write_one_by_one(batch)
                else:
                    if self.database_up:
                        log.error("database write failed; records kept and retried",
                                  extra={"pending": len(self._queue), "error": repr(exc)})
                    self.database_up = False
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
            if not self.database_up:
                log.info("database back; writing kept records", extra={"pending": len(self._queue)})
            self.database_up = True
            backoff = 0.5
            for _ in batch:
                self._queue.popleft()
            self.written += len(batch)
            while self._marks and self._marks[0][0] <= self.written:
                self._marks.popleft()

    async def _write_one_by_one(self, batch: list[Record]) -> None:
        """The database is up but refused the batch: find the record it refuses."""
        for record in batch:
            try:
                await self._write([record])
            except Exception as exc:
                if not await ping(self._engine):
                    raise  # it went down meanwhile: the batch is retried whole, idempotently
                self._set_aside(record, exc)

    def _set_aside(self, record: Record, exc: Exception) -> None:
        error = refusal_reason(exc)
        log.error("record refused by the database; kept in the dead-letter file",
                  extra={"linkedid": getattr(record, "linkedid", None),
                         "file": str(self.dead_letter), "error": error[:300]})
        self.dead_letters.add_record(record, error)
        self.set_aside += 1

    def _set_aside_line(self, line: str, why: str) -> None:
        """A spilled line this version cannot read back: kept whole, never dropped."""
        log.error("spilled line unreadable; kept in the dead-letter file",
                  extra={"file": str(self.dead_letter), "error": why[:300]})
        self.dead_letters.add("unreadable", why, {"line": line})
        self.set_aside += 1

    async def replay_dead_letters(self) -> list[Replayed]:
        """Retries the dead letters through the same write as any batch."""
        async def refusal(exc: Exception) -> str | None:
            return refusal_reason(exc) if await ping(self._engine) else None

        return await self.dead_letters.replay(lambda record: self._write([record]), refusal)

    async def _write(self, batch: list[Record]) -> None:
        calls = [r for r in batch if isinstance(r, CallRecord)]
        states = [r for r in batch if isinstance(r, AgentStateRecord)]
        live = [r for r in batch if isinstance(r, LiveCallEvent)]
        async with self._sessions() as session, session.begin():
            if live:  # before the batch's call records: a call rings before it ends
                await emit_many(session, [Event(e.event_type, e.payload(), e.linkedid, e.agent)
                                          for e in live])
            if calls:
                await save_calls(session, calls, final=self.final,
                                 keep_unanswered_recordings=self.keep_unanswered_recordings,
                                 delete_opted_out=self.delete_opted_out)
            if states:
                table = AgentStateChange.__table__
                added = await session.execute(
                    upsert(self._dialect, table).on_conflict_do_nothing(
                        index_elements=["agent", "queue", "state", "at"])
                    .returning(*(table.c[name] for name in _STATE_FIELDS)),
                    [_row(s) for s in states],
                )
                # only states not written before: a batch retried emits nothing twice
                await emit_many(session, [Event(
                    "agent.state_changed", {name: getattr(row, name) for name in _STATE_FIELDS},
                    f"agent-{row.agent}", row.agent) for row in added])


def refusal_reason(exc: Exception) -> str:
    """Why the database refused, without the statement's parameters (personal data)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}".splitlines()[0][:1000]
