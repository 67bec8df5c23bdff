"""An import's contact.changed events and the outbox's ordering lock (PostgreSQL).

A 20,000-contact import stages its events without the lock (outbox/staged.py), then
`release` moves them into the outbox 500 at a time, each chunk a transaction that takes the
lock first thing: the time a chunk's transaction lasts is what the lock is held for, at most.
Meanwhile a probe, in its own thread, loop and engine (as the telephony writer has its own),
commits one call.ended every 20 ms and times each commit: what another emitter waits.

Baselines from the same run: the probe's commits with nothing else running, and the design
this replaced, the same 20,000 events inserted at one commit under the lock (`emit_many`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import Result, percentile
from callcenter.contacts.importer import Report, apply, parse_file, spooled
from callcenter.db import create_engine, session_factory
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.models import OutboxEvent
from callcenter.outbox.staged import CHUNK, release

CONTACTS = int(os.environ.get("BENCH_IMPORT_CONTACTS", "20000"))
PROBE_EVERY = 0.02  # seconds between the probe's commits


class Probe:
    """Commits a call.ended every PROBE_EVERY s from its own thread; (start, seconds) each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.commits: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    async def _run(self) -> None:
        engine = create_engine(self.url)
        sessions = session_factory(engine)
        try:
            while not self._stop.is_set():
                key = f"probe-{uuid.uuid4().hex[:10]}"
                started = time.monotonic()
                async with sessions() as session, session.begin():
                    await emit_many(session, [Event("call.ended", {"outcome": "answered"},
                                                    key)])
                self.commits.append((started, time.monotonic() - started))
                await asyncio.sleep(PROBE_EVERY)  # the pace of the probe, not a wait for it
        finally:
            await engine.dispose()

    def during(self, start: float, end: float) -> list[float]:
        return [seconds for at, seconds in self.commits if start <= at <= end] or [0.0]


def _csv(path: Path, count: int, prefix: str) -> Path:
    with path.open("w") as out:
        out.write("name,phone,email\n")
        for n in range(count):
            out.write(f"Client {n},+7{prefix}{n:07d},c{n}.{prefix}@example.com\n")
    return path


async def _bench(database_url: str, tmp: str) -> list[Result]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    chunks: list[float] = []

    @asynccontextmanager
    async def timed() -> AsyncIterator[AsyncSession]:
        """release's sessions, each timed: one per chunk (plus its first, empty look)."""
        started = time.monotonic()
        async with sessions() as session:
            yield session
        chunks.append(time.monotonic() - started)

    parsed = await asyncio.to_thread(parse_file, _csv(Path(tmp) / "import.csv", CONTACTS,
                                                      "925"), "import.csv", None, "RU",
                                     Path(tmp) / "import-rows")
    try:
        with Probe(database_url) as probe:
            async with sessions() as session:  # `make bench` runs every suite on one database
                before = await session.scalar(select(func.max(OutboxEvent.id))) or 0
            quiet = (time.monotonic(), time.monotonic() + 2)
            await asyncio.sleep(2)  # the probe alone: its baseline
            started = time.monotonic()
            report = Report()
            async with sessions() as session:
                await apply(session, spooled(parsed.spool), on_duplicate="skip", report=report)
                await session.commit()
            imported = time.monotonic()
            released = await release(timed)  # type: ignore[arg-type]
            done = time.monotonic()
            assert report.created == CONTACTS and released == CONTACTS, (report, released)

            # the design this replaced: the same events inserted at one commit, under the lock
            async with sessions() as session:
                stored = await session.scalars(select(OutboxEvent.payload).where(
                    OutboxEvent.type == "contact.changed", OutboxEvent.id > before)
                    .order_by(OutboxEvent.id))
                # keyed apart from the contacts': no staged rows to look for, as before
                events = [Event("contact.changed", p, f"before-{p['contact_id']}")
                          for p in stored]
            old_start = time.monotonic()
            async with sessions() as session, session.begin():
                await emit_many(session, events)
                committing = time.monotonic()
            old_end = time.monotonic()
            await asyncio.sleep(1)  # the probe's commits queued behind it are counted
        async with sessions() as session:
            total = await session.scalar(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.type == "contact.changed", OutboxEvent.id > before))
        assert total == 2 * CONTACTS
    finally:
        await engine.dispose()
    per_chunk = chunks[1:]  # the first: the look that found rows
    quiet_p99 = percentile(probe.during(*quiet), 99) * 1000
    in_import = probe.during(started, imported)
    in_release = probe.during(imported, done)
    in_old = probe.during(old_start, old_end)
    old_lock = (old_end - committing) * 1000
    return [
        Result("import events", f"import of {CONTACTS:,} contacts (its events staged), "
                                "apply + commit", imported - started, "s"),
        Result("import events", f"release into the outbox ({len(per_chunk)} transactions of "
                                f"up to {CHUNK})", done - imported, "s"),
        Result("import events", "lock held per released chunk (its transaction), p50",
               percentile(per_chunk, 50) * 1000, "ms",
               "all events at one commit, under the lock (before)", old_lock),
        Result("import events", "lock held per released chunk, max", max(per_chunk) * 1000,
               "ms", "all events at one commit, under the lock (before)", old_lock),
        Result("import events", "another emitter's commit during the import (staging), p99",
               percentile(in_import, 99) * 1000, "ms", "with nothing else running, p99",
               quiet_p99),
        Result("import events", "another emitter's commit during the release, p99",
               percentile(in_release, 99) * 1000, "ms", "with nothing else running, p99",
               quiet_p99),
        Result("import events", "another emitter's commit during import + release, max",
               max(max(in_import), max(in_release)) * 1000, "ms",
               "during the one-commit insert (before), max", max(in_old) * 1000),
    ]


def run(database_url: str, tmp: str) -> list[Result]:
    return asyncio.run(_bench(database_url, tmp))

