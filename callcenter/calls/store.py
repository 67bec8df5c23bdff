"""Writes finished calls and agent states in batches, off the event-reading path.

Writes are idempotent (keyed on Linkedid, Uniqueid, recording path, ...), so a batch retried
after a database outage never writes a call twice. While the database is down, records wait in
memory and are retried with back-off; nothing is dropped. Past `max_in_memory` pending records,
new ones are spilled to a file in the spool directory, in order, and read back as the database
catches up. A record the database refuses while
it is up (bad data) would block every record behind it: it is set aside, whole, as a JSON line
in the dead-letter file, and the rest go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.agents.models import AgentStateChange
from callcenter.calls.persist import row_of as _row
from callcenter.calls.persist import save_calls
from callcenter.calls.tracker import AgentStateRecord, CallRecord
from callcenter.db import ping, upsert

log = logging.getLogger(__name__)

Record = CallRecord | AgentStateRecord


class RecordWriter:
    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                 *, dead_letter: Path, keep_unanswered_recordings: bool = False,
                 final: bool = True,
                 batch_size: int = 500, max_backoff: float = 10.0,
                 max_in_memory: int = 50_000, gather_seconds: float = 0.01) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self.dead_letter = dead_letter
        self.keep_unanswered_recordings = keep_unanswered_recordings
        # False while a ledger is configured: these records are provisional, the ledger's final
        self.final = final
        self.max_in_memory = max_in_memory
        # a moment to let records gather: one transaction for many, not one for each
        self.gather_seconds = gather_seconds
        self.spill_file = dead_letter.with_name("pending-records.pickle")
        self._spill_reader: BinaryIO | None = None
        # records in the spill file not yet read back; some may be left by a previous run
        self._spilled = _count_spilled(self.spill_file)
        if self._spilled:
            log.warning("records left by a previous run will be written",
                        extra={"file": str(self.spill_file), "pending": self._spilled})
        self.spilled_total = 0
        self._sessions = sessions
        self._queue: deque[Record] = deque()
        self._wakeup = asyncio.Event()
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.written = 0
        self.set_aside = 0
        self.database_up = True
        self._idle = asyncio.Event()
        if not self._spilled:
            self._idle.set()

    def submit(self, records: list[Record]) -> None:
        """Never waits for the database: the AMI reader hands records over and reads on."""
        if not records:
            return
        if self._spilled or len(self._queue) + len(records) > self.max_in_memory:
            self._spill(records)  # once spilling, everything goes behind, to keep the order
        else:
            self._queue.extend(records)
        self._idle.clear()
        self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._queue) + self._spilled

    def _spill(self, records: list[Record]) -> None:
        if not self._spilled:
            self.spill_file.parent.mkdir(parents=True, exist_ok=True)
            self.spill_file.unlink(missing_ok=True)  # fully read back: a stale tail
            log.warning("records spilled to disk while the database is behind",
                        extra={"file": str(self.spill_file), "in_memory": len(self._queue)})
        with self.spill_file.open("ab") as file:
            pickle.dump(records, file, protocol=pickle.HIGHEST_PROTOCOL)
        self._spilled += len(records)
        self.spilled_total += len(records)

    def save_pending(self) -> None:
        """On the way out with the database behind: what is still in memory goes to the spill
        file, ahead of what is there already, so the next start writes it all in order."""
        if not self._queue:
            return
        rest = b""
        if self._spilled:
            if self._spill_reader is not None:
                rest = self._spill_reader.read()
                self._spill_reader.close()
                self._spill_reader = None
            else:
                rest = self.spill_file.read_bytes()
        self.spill_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.spill_file.with_suffix(".partial")
        with partial.open("wb") as file:
            pickle.dump(list(self._queue), file, protocol=pickle.HIGHEST_PROTOCOL)
            file.write(rest)
        partial.replace(self.spill_file)
        self._spilled += len(self._queue)
        self._queue.clear()
        log.warning("records not yet written saved for the next start",
                    extra={"file": str(self.spill_file), "pending": self._spilled})

    def _read_back(self) -> None:
        """Refills memory from the spill file, oldest first."""
        if self._spill_reader is None:
            self._spill_reader = self.spill_file.open("rb")
        while self._spilled and len(self._queue) < self.max_in_memory // 2:
            try:
                records = pickle.load(self._spill_reader)
            except EOFError:
                break
            self._queue.extend(records)
            self._spilled -= len(records)
        if not self._spilled:
            self._spill_reader.close()
            self._spill_reader = None
            self.spill_file.unlink(missing_ok=True)

    async def drain(self, timeout: float | None = None) -> None:
        """Waits until everything submitted so far is in the database."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def run(self) -> None:
        backoff = 0.5
        while True:
            if not self._queue and self._spilled:
                await asyncio.to_thread(self._read_back)
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
        log.error("record refused by the database; kept in the dead-letter file",
                  extra={"linkedid": getattr(record, "linkedid", None),
                         "file": str(self.dead_letter), "error": repr(exc)[:300]})
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"type": type(record).__name__, "error": repr(exc)[:1000],
                           "record": asdict(record)}, default=str, ensure_ascii=False)
        with self.dead_letter.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
        self.set_aside += 1

    async def _write(self, batch: list[Record]) -> None:
        calls = [r for r in batch if isinstance(r, CallRecord)]
        states = [r for r in batch if isinstance(r, AgentStateRecord)]
        async with self._sessions() as session, session.begin():
            if calls:
                await save_calls(session, calls, final=self.final,
                                 keep_unanswered_recordings=self.keep_unanswered_recordings)
            if states:
                await session.execute(
                    upsert(self._dialect, AgentStateChange.__table__).on_conflict_do_nothing(
                        index_elements=["agent", "queue", "state", "at"]),
                    [_row(s) for s in states],
                )


def _count_spilled(path: Path) -> int:
    if not path.exists():
        return 0
    count = 0
    with path.open("rb") as file:
        while True:
            try:
                count += len(pickle.load(file))
            except EOFError:
                return count
