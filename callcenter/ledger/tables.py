"""Following the ledger a PBX on another host writes into our PostgreSQL database: Asterisk's
cel_pgsql (CEL) and queue_log through res_config_pgsql realtime, into the tables of migration
0005 (asterisk_cel, asterisk_queue_log). The same interface as `FileTail`, so the follower
reads either the same way; blocking for its caller, like a file: call it off the loop.

Reading by id is exact because each table has one writer that commits in id order: cel_pgsql
inserts every event on its one connection under its own lock, one autocommitted INSERT at a
time, and res_config_pgsql stores queue_log rows the same way; so no smaller id can become
visible after a larger one. What is left are holes: a sequence value spent by an INSERT that
failed (or PostgreSQL's crash recovery advancing the sequence). A hole is waited for
`gap_wait` seconds (an insert still in flight, should a second writer ever share the table),
then passed over and counted in `skipped_ids`.

A position is (device 0, inode 0, offset = the next id to read): the id where reading resumes,
as a file offset is where the next line starts, kept in the same `ledger_positions` row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ledger.files import FilePosition

log = logging.getLogger(__name__)

metadata = sa.MetaData()
# The columns read; the tables have all of cel_pgsql's and queue_log's (migration 0005).
CEL_TABLE = sa.Table(
    "asterisk_cel", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("eventtime", sa.Float(precision=53)),
    *(sa.Column(name, sa.Text) for name in (
        "eventtype", "userdeftype", "cid_name", "cid_num", "exten", "context", "channame",
        "appname", "appdata", "uniqueid", "linkedid", "peer", "extra")),
)
QUEUE_LOG_TABLE = sa.Table(
    "asterisk_queue_log", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("time", sa.DateTime),
    *(sa.Column(name, sa.Text) for name in (
        "callid", "queuename", "agent", "event", "data1", "data2", "data3", "data4", "data5")),
)


class TableTail:
    def __init__(self, table: sa.Table, sessions: async_sessionmaker[AsyncSession],
                 start: FilePosition | None, *, loop: asyncio.AbstractEventLoop,
                 from_start: bool = False, batch: int = 1000, gap_wait: float = 5.0,
                 timeout: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        """`start`: the committed position; None: a first run, which begins after the last
        row (history is not imported) unless `from_start`. `loop`: the event loop the
        database sessions belong to (reads run on it, the caller's thread waits)."""
        self.table = table
        self.sessions = sessions
        self.batch = batch
        self.gap_wait = gap_wait
        self.timeout = timeout
        self._loop = loop
        self._clock = clock
        self._next: int | None = start.offset if start is not None else None
        self._from_start = from_start
        self._gap_since: float | None = None
        self._caught_up = False
        self.skipped_ids = 0

    # -- positions -------------------------------------------------------------------------

    def position(self, mark: int) -> FilePosition:
        return FilePosition(0, 0, mark)

    @property
    def started(self) -> bool:
        """Whether where to begin is known (positions exist only then)."""
        return self._next is not None

    @property
    def end(self) -> int:
        """The id after the last row read."""
        assert self._next is not None
        return self._next

    @property
    def caught_up(self) -> bool:
        """Whether everything written had been read, as of the last read (no query here:
        /health asks on the event loop)."""
        return self._caught_up

    # -- reading ---------------------------------------------------------------------------

    def read(self) -> list[tuple[int, RowMapping]]:
        """Rows written since the last read, in id order, at most `batch`, each with its id."""
        if self._next is None:
            self._next = self._wait(self._first_id())
        rows = self._wait(self._rows(self._next))
        out: list[tuple[int, RowMapping]] = []
        waiting = False
        for row in rows:
            row_id = row["id"]
            if row_id > self._next:
                if self._gap_since is None:
                    self._gap_since = self._clock()
                if self._clock() - self._gap_since < self.gap_wait:
                    waiting = True
                    break
                log.warning("ledger table ids never written: passed over",
                            extra={"table": self.table.name, "first": self._next,
                                   "last": row_id - 1})
                self.skipped_ids += row_id - self._next
            self._gap_since = None
            out.append((row_id, row))
            self._next = row_id + 1
        self._caught_up = len(rows) < self.batch and not waiting
        return out

    def close(self) -> None:
        """Nothing held between reads: each read is its own short session."""

    async def _first_id(self) -> int:
        column = self.table.c.id
        async with self.sessions() as session:
            if self._from_start:
                first = await session.scalar(sa.select(sa.func.min(column)))
                return first if first is not None else 1
            last = await session.scalar(sa.select(sa.func.max(column)))
            return last + 1 if last is not None else 1

    async def _rows(self, first: int) -> list[RowMapping]:
        query = (sa.select(self.table).where(self.table.c.id >= first)
                 .order_by(self.table.c.id).limit(self.batch))
        async with self.sessions() as session:
            return list((await session.execute(query)).mappings())

    def _wait(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Runs a query on the sessions' loop and waits for it, from the reader's thread."""
        if _running_loop() is self._loop:
            coroutine.close()
            raise RuntimeError("TableTail.read() blocks: call it off the event loop")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
