"""The final call records, from Asterisk's own ledger: CEL and queue_log.

Reads both files from where the last commit stopped, derives each call once it is over, and
commits its record together with the positions read up to, in one transaction: a crash, a
`kill -9`, a database outage or an AMI gap can neither skip a call nor write one twice. The
position committed is the earliest line a call still open needs, so a restart reads those
calls again from their first line; calls already final are not written again.

The ledger is read from files (`source="files"`: cel_custom and queue_log, readable here) or,
for a PBX on another host, from the tables Asterisk writes into this database
(`source="tables"`: cel_pgsql and queue_log realtime, PostgreSQL only): one derivation either
way, the tables' ids standing for the files' offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.calls.models import LedgerPosition
from callcenter.calls.persist import save_calls
from callcenter.calls.tracker import CallRecord
from callcenter.db import upsert
from callcenter.ledger.derive import CelEvent, LedgerDeriver, QueueLogLine
from callcenter.ledger.files import FilePosition, FileTail
from callcenter.ledger.tables import CEL_TABLE, QUEUE_LOG_TABLE, TableTail

log = logging.getLogger(__name__)

SOURCES = ("cel", "queue_log")
# How each source's items become the deriver's: lines of the files, rows of the tables.
_PARSERS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "files": {"cel": CelEvent.parse, "queue_log": QueueLogLine.parse},
    "tables": {"cel": CelEvent.from_row, "queue_log": QueueLogLine.from_row},
}


class _Reader(Protocol):
    """FileTail and TableTail: what was appended since the last read, and where it was."""

    @property
    def started(self) -> bool: ...
    @property
    def end(self) -> Any: ...
    @property
    def caught_up(self) -> bool: ...
    def read(self) -> Sequence[tuple[Any, Any]]: ...
    def position(self, mark: Any) -> FilePosition: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Step:
    records: list[CallRecord]
    positions: dict[str, FilePosition]
    read_lines: int
    caught_up: bool


class LedgerFollower:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession],
                 cel_path: Path | None = None, queue_log_path: Path | None = None,
                 source: Literal["files", "tables"] = "files",
                 deriver: Callable[[], LedgerDeriver[Any]] = LedgerDeriver,
                 keep_unanswered_recordings: bool = False, delete_opted_out: bool = True,
                 from_start: bool = False,
                 set_aside: Callable[[CallRecord, Exception], None] | None = None,
                 poll_interval: float = 0.2, max_backoff: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        """`source="files"` needs both paths; `"tables"` reads asterisk_cel and
        asterisk_queue_log in the database of `sessions` (PostgreSQL)."""
        if source == "files" and (cel_path is None or queue_log_path is None):
            raise ValueError("the ledger files need both cel_path and queue_log_path")
        self.source = source
        self.paths = {"cel": cel_path, "queue_log": queue_log_path}
        self.sessions = sessions
        self._new_deriver = deriver
        self.deriver: LedgerDeriver[Any] = deriver()
        self.keep_unanswered_recordings = keep_unanswered_recordings
        self.delete_opted_out = delete_opted_out
        self.from_start = from_start
        self.set_aside = set_aside  # keeps a refused record (blocking: called in a thread)
        self.set_aside_count = 0
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._clock = clock
        self._tails: dict[str, _Reader] = {}
        self._committed: dict[str, FilePosition] = {}
        self._caught_up_at: float | None = None
        self._started_at = clock()
        self.records_written = 0
        self.unparsed_lines = 0

    # -- what /health shows ----------------------------------------------------------------

    @property
    def lag_seconds(self) -> float:
        """0 when everything written so far is read and committed; else since when not."""
        if self._tails and all(t.caught_up for t in self._tails.values()):
            return 0.0
        behind_since = self._caught_up_at if self._caught_up_at is not None else self._started_at
        return round(self._clock() - behind_since, 1)

    def health(self) -> dict[str, object]:
        return {"enabled": True, "source": self.source, "lag_seconds": self.lag_seconds,
                "open_calls": len(self.deriver.calls),
                "records_written": self.records_written,
                "unparsed_lines": self.unparsed_lines,
                "set_aside": self.set_aside_count}

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """From the committed positions, every time: after a failure (restarted by the
        supervisor) nothing half-read is trusted."""
        stored = await self._retrying(self._load_positions)
        self._tails = self._open(stored)
        self._committed = dict(stored)
        self.deriver = self._new_deriver()
        try:
            while True:
                step = await asyncio.to_thread(self._step)
                if step.records or step.positions != self._committed:
                    await self._retrying(  # type: ignore[misc]
                        lambda s=step: self._commit_or_set_aside(s))
                if step.caught_up:
                    self._caught_up_at = self._clock()
                if not step.read_lines:
                    await asyncio.sleep(self.poll_interval)
        finally:
            for tail in self._tails.values():
                tail.close()

    def _open(self, stored: dict[str, FilePosition]) -> dict[str, _Reader]:
        if self.source == "tables":
            loop = asyncio.get_running_loop()
            tables = {"cel": CEL_TABLE, "queue_log": QUEUE_LOG_TABLE}
            return {name: TableTail(tables[name], self.sessions, stored.get(name), loop=loop,
                                    from_start=self.from_start) for name in SOURCES}
        return {name: FileTail(path, stored.get(name), from_start=self.from_start)
                for name, path in self.paths.items() if path is not None}

    def _step(self) -> _Step:
        """Reads what was appended (queue_log first: a call's queue lines are then at hand
        when CEL says it is over), and derives the calls that are finished. In a thread."""
        cel, queue_log = self._tails["cel"], self._tails["queue_log"]
        parse = _PARSERS[self.source]
        read = self._feed(queue_log, parse["queue_log"], self.deriver.add_queue_log)
        read += self._feed(cel, parse["cel"], self.deriver.add_cel)
        records = self.deriver.finished(self._clock(), cel_caught_up=cel.caught_up)
        cel_low, queue_low = self.deriver.low_water()
        positions = {
            "cel": cel.position(cel.end if cel_low is None else cel_low)
            if cel.started else None,
            "queue_log": queue_log.position(queue_log.end if queue_low is None else queue_low)
            if queue_log.started else None}
        return _Step(records, {k: v for k, v in positions.items() if v is not None}, read,
                     caught_up=cel.caught_up and queue_log.caught_up and not records)

    def _feed(self, reader: _Reader, parse: Callable[[Any], Any],
              add: Callable[[Any, Any], None]) -> int:
        """What one source appended, parsed, into the deriver; says how many items it read."""
        items = reader.read()
        for mark, raw in items:
            parsed = parse(raw)
            if parsed is None:
                self.unparsed_lines += 1
            else:
                add(parsed, mark)
        return len(items)

    async def _commit_or_set_aside(self, step: _Step) -> None:
        """A record the database refuses while it answers (bad data) would hold every call
        behind it: it is set aside, whole, in the dead-letter file, and the rest go on."""
        try:
            await self._commit(step)
            return
        except Exception:
            if not step.records or not await self._database_answers():
                raise  # the database is away: the whole step is retried
        for record in step.records:
            try:
                await self._commit(_Step([record], {}, 0, False))
            except Exception as exc:
                if not await self._database_answers():
                    raise  # went away meanwhile: retried, the records written stay written
                log.error("final record refused by the database; kept in the dead-letter file",
                          extra={"linkedid": record.linkedid, "error": repr(exc)[:300]})
                self.set_aside_count += 1
                if self.set_aside is not None:
                    await asyncio.to_thread(self.set_aside, record, exc)
        await self._commit(_Step([], step.positions, 0, False))

    async def _database_answers(self) -> bool:
        try:
            async with asyncio.timeout(2), self.sessions() as session:
                await session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def _commit(self, step: _Step) -> None:
        async with self.sessions() as session, session.begin():
            saved = await save_calls(session, step.records, final=True,
                                     keep_unanswered_recordings=self.keep_unanswered_recordings,
                                     delete_opted_out=self.delete_opted_out)
            now = datetime.now(UTC)
            for source, position in step.positions.items():
                if self._committed.get(source) == position:
                    continue
                statement = upsert(session.bind.dialect.name, LedgerPosition.__table__)
                await session.execute(statement.on_conflict_do_update(
                    index_elements=["source"],
                    set_={"device": statement.excluded.device,
                          "inode": statement.excluded.inode,
                          "offset": statement.excluded.offset,
                          "updated_at": statement.excluded.updated_at}),
                    [{"source": source, "device": position.device, "inode": position.inode,
                      "offset": position.offset, "updated_at": now}])
        self._committed.update(step.positions)
        self.records_written += len(saved)
        if saved:
            log.info("final call records from the ledger",
                     extra={"calls": len(saved),
                            "corrected": sum(s.replaced_outcome is not None for s in saved)})

    async def _load_positions(self) -> dict[str, FilePosition]:
        async with self.sessions() as session:
            rows = await session.scalars(select(LedgerPosition))
            return {row.source: FilePosition(row.device, row.inode, row.offset) for row in rows}

    async def _retrying(self, action: Callable[[], object]) -> object:
        """The files keep everything: while the database is down, wait and try again."""
        backoff = 0.5
        while True:
            try:
                return await action()  # type: ignore[misc]
            except Exception as exc:  # the database: retried until it answers
                log.warning("ledger commit failed; retrying (nothing is lost: the ledger keeps it)",
                            extra={"error": repr(exc)[:300], "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
