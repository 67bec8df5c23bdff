"""Import writing and retention on both databases: batches, duplicates across batches, merges,
and the expired recordings picked by SQL."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.calls.models import Call
from callcenter.contacts.importer import BATCH_ROWS, Report, apply, parse_file, spooled
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.db import session_factory
from callcenter.recordings.models import Recording
from callcenter.recordings.retention import purge_expired


def numbers(count: int) -> list[str]:
    """Mobile numbers no other test uses (the PostgreSQL database is shared)."""
    base = secrets.randbelow(900) + 100
    return [f"+7916{base:03d}{i:04d}" for i in range(count)]


async def test_an_import_over_several_batches_merges_duplicates_across_them(database, tmp_path):
    phones = numbers(2 * BATCH_ROWS + 3)
    sessions = session_factory(database)
    async with sessions() as session:  # one contact already there, holding the last number
        session.add(Contact(name="Stored", numbers=[ContactNumber(number=phones[-1])]))
        await session.commit()
    lines = ["name,phone,notes"] + [f"Client {i},{p}," for i, p in enumerate(phones[:-2])]
    lines += [f"Again,{phones[0]},seen again",  # a duplicate of the first batch's first row
              f"Stored too,{phones[-1]},known",  # of the stored contact
              f"Both,{phones[1]};{phones[-1]},",  # numbers of two contacts: not merged
              f"New,{phones[-2]},"]
    csv = tmp_path / "list.csv"
    csv.write_text("\n".join(lines), encoding="utf-8")
    parsed = parse_file(csv, "list.csv", None, "RU", tmp_path / "rows")
    report = Report(errors=parsed.errors)
    async with sessions() as session:
        await apply(session, spooled(parsed.spool), on_duplicate="merge", report=report)
        await session.commit()
    assert (report.created, report.merged) == (len(phones) - 1, 2)
    assert [e["line"] for e in report.errors] == [len(lines) - 1]
    async with sessions() as session:
        first = await session.scalar(select(Contact).join(ContactNumber)
                                     .where(ContactNumber.number == phones[0]))
        stored = await session.scalar(select(Contact).where(Contact.name == "Stored")
                                      .join(ContactNumber)
                                      .where(ContactNumber.number == phones[-1]))
        assert (first.name, first.notes) == ("Client 0", "seen again")
        assert stored.notes == "known"


async def test_retention_by_queue_and_by_default_in_sql(database, tmp_path):
    now = datetime.now(UTC)
    tag = secrets.token_hex(4)
    ages = {"sales": 40, "support": 40, None: 400}  # sales keeps 30 days, the rest 365
    sessions = session_factory(database)
    async with sessions() as session:
        for queue, days in ages.items():
            for suffix, age in (("old", days), ("new", 1)):
                linkedid = f"ret-{tag}-{queue}-{suffix}"
                path = tmp_path / f"{linkedid}.wav"
                await asyncio.to_thread(path.write_bytes, b"RIFF")
                session.add(Call(linkedid=linkedid, direction="inbound", queue=queue,
                                 started_at=now - timedelta(days=age), outcome="answered",
                                 end_inferred=False))
                session.add(Recording(linkedid=linkedid, path=str(path), format="wav",
                                      created_at=now - timedelta(days=age)))
        await session.commit()
    async with sessions() as session:
        expired = await purge_expired(session, now=now, default_days=365,
                                      days_by_queue={"sales": 30}, batch=1)
    mine = sorted(e.linkedid for e in expired if tag in e.linkedid)
    assert mine == [f"ret-{tag}-None-old", f"ret-{tag}-sales-old"]
    assert not (tmp_path / f"ret-{tag}-sales-old.wav").exists()
    assert (tmp_path / f"ret-{tag}-support-old.wav").exists()
