"""The final call records, from Asterisk's own ledger: CEL and queue_log.

Reads both files from where the last commit stopped, derives each call once it is over, and
commits its record together with the positions read up to, in one transaction: a crash, a
`kill -9`, a database outage or an AMI gap can neither skip a call nor write one twice. The
position committed is the earliest line a call still open needs, so a restart reads those
calls again from their first line; calls already final are not written again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.calls.models import LedgerPosition
from callcenter.calls.persist import save_calls
from callcenter.calls.tracker import CallRecord
from callcenter.db import upsert
from callcenter.ledger.derive import CelEvent, LedgerDeriver, QueueLogLine
from callcenter.ledger.files import FilePosition, FileTail, Mark

log = logging.getLogger(__name__)

SOURCES = ("cel", "queue_log")


@dataclass(frozen=True, slots=True)
class _Step:
    records: list[CallRecord]
    positions: dict[str, FilePosition]
    read_lines: int
    caught_up: bool


class LedgerFollower:
    def __init__(self, *, cel_path: Path, queue_log_path: Path,
                 sessions: async_sessionmaker[AsyncSession],
                 deriver: Callable[[], LedgerDeriver[Mark]] = LedgerDeriver,
                 keep_unanswered_recordings: bool = False, delete_opted_out: bool = True,
                 from_start: bool = False,
                 poll_interval: float = 0.2, max_backoff: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.paths = {"cel": cel_path, "queue_log": queue_log_path}
        self.sessions = sessions
        self._new_deriver = deriver
        self.deriver: LedgerDeriver[Mark] = deriver()
        self.keep_unanswered_recordings = keep_unanswered_recordings
        self.delete_opted_out = delete_opted_out
        self.from_start = from_start
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._clock = clock
        self._tails: dict[str, FileTail] = {}
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
        return {"enabled": True, "lag_seconds": self.lag_seconds,
                "open_calls": len(self.deriver.calls),
                "records_written": self.records_written,
                "unparsed_lines": self.unparsed_lines}

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """From the committed positions, every time: after a failure (restarted by the
        supervisor) nothing half-read is trusted."""
        stored = await self._retrying(self._load_positions)
        self._tails = {name: FileTail(self.paths[name], stored.get(name),
                                      from_start=self.from_start) for name in SOURCES}
        self._committed = dict(stored)
        self.deriver = self._new_deriver()
        try:
            while True:
                step = await asyncio.to_thread(self._step)
                if step.records or step.positions != self._committed:
                    await self._retrying(lambda s=step: self._commit(s))  # type: ignore[misc]
                if step.caught_up:
                    self._caught_up_at = self._clock()
                if not step.read_lines:
                    await asyncio.sleep(self.poll_interval)
        finally:
            for tail in self._tails.values():
                tail.close()

    def _step(self) -> _Step:
        """Reads what was appended (queue_log first: a call's queue lines are then at hand
        when CEL says it is over), and derives the calls that are finished. In a thread."""
        cel, queue_log = self._tails["cel"], self._tails["queue_log"]
        read = 0
        for mark, raw in queue_log.read():
            read += 1
            line = QueueLogLine.parse(raw)
            if line is None:
                self.unparsed_lines += 1
                continue
            self.deriver.add_queue_log(line, mark)
        for mark, raw in cel.read():
            read += 1
            event = CelEvent.parse(raw)
            if event is None:
                self.unparsed_lines += 1
                continue
            self.deriver.add_cel(event, mark)
        records = self.deriver.finished(self._clock(), cel_caught_up=cel.caught_up)
        cel_low, queue_low = self.deriver.low_water()
        positions = {"cel": cel.position(cel_low or cel.end) if cel.started else None,
                     "queue_log": queue_log.position(queue_low or queue_log.end)
                     if queue_log.started else None}
        return _Step(records, {k: v for k, v in positions.items() if v is not None}, read,
                     caught_up=cel.caught_up and queue_log.caught_up and not records)

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
                log.warning("ledger commit failed; retrying (nothing is lost: the files keep it)",
                            extra={"error": repr(exc)[:300], "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
