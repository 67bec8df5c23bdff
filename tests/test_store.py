"""The record writer on both databases: idempotent, callbacks, poison records set aside."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from sqlalchemy import func, select

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call, CallLeg
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallRecord, CallTracker
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from tests.unit.trace import messages


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/test.db"
        await asyncio.to_thread(upgrade, url)
    else:
        url = request.getfixturevalue("postgres").url
        await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def records(name: str) -> list[CallRecord]:
    tracker = CallTracker()
    return [r for m in messages(name) for r in tracker.handle(m) if isinstance(r, CallRecord)]


async def write(engine, items, tmp_path) -> RecordWriter:
    writer = RecordWriter(engine, session_factory(engine), dead_letter=tmp_path / "dead.jsonl")
    task = asyncio.create_task(writer.run())
    writer.submit(items)
    await writer.drain(timeout=20)
    task.cancel()
    return writer


def unique(record: CallRecord, suffix: str) -> CallRecord:
    """The same call under another Linkedid, so both databases start clean of it."""
    legs = tuple(dataclasses.replace(leg, uniqueid=leg.uniqueid + suffix,
                                     linkedid=record.linkedid + suffix) for leg in record.legs)
    entries = tuple(dataclasses.replace(e, linkedid=record.linkedid + suffix)
                    for e in record.queue_entries)
    return dataclasses.replace(record, linkedid=record.linkedid + suffix, legs=legs,
                               queue_entries=entries,
                               recordings=tuple(p.replace(".wav", f"{suffix}.wav")
                                                for p in record.recordings))


async def test_writing_twice_stores_each_call_once(database, tmp_path):
    [call] = records("answered")
    call = unique(call, f"-{tmp_path.name}")
    await write(database, [call], tmp_path)
    await write(database, [call, call], tmp_path)
    sessions = session_factory(database)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(
            Call.linkedid == call.linkedid)) == 1
        assert await session.scalar(select(func.count()).select_from(CallLeg).where(
            CallLeg.linkedid == call.linkedid)) == 4
        stored = await session.scalar(select(Call).where(Call.linkedid == call.linkedid))
        assert (stored.agent, stored.outcome, stored.talk_seconds) == ("Anna", "answered", 3)
        assert stored.started_at.tzinfo is not None  # aware UTC on SQLite as on PostgreSQL
        [recording] = await session.scalars(select(Recording).where(
            Recording.linkedid == call.linkedid))
        assert recording.format == "wav"


async def test_abandoned_caller_gets_a_callback_closed_by_a_later_answered_call(database,
                                                                             tmp_path):
    suffix = f"-{tmp_path.name}"
    [abandoned] = records("abandoned")
    [answered] = records("answered")
    number = "+7916" + str(abs(hash(tmp_path.name)))[:7]
    abandoned = dataclasses.replace(unique(abandoned, suffix), caller=number)
    answered = dataclasses.replace(unique(answered, suffix), caller=number)
    await write(database, [abandoned], tmp_path)
    sessions = session_factory(database)
    async with sessions() as session:
        [callback] = await session.scalars(select(Callback).where(Callback.number == number))
        assert (callback.status, callback.source, callback.queue) == ("open", "abandoned", "sales")
    # the same abandoned call again changes nothing; the answered one (later) closes it
    await write(database, [abandoned, dataclasses.replace(
        answered, answered_at=abandoned.ended_at.replace(year=abandoned.ended_at.year + 1))],
        tmp_path)
    async with sessions() as session:
        [callback] = await session.scalars(select(Callback).where(Callback.number == number))
        assert callback.status == "done" and callback.closed_by_linkedid == answered.linkedid


async def test_a_record_the_database_refuses_is_set_aside_and_the_rest_written(database,
                                                                              tmp_path):
    suffix = f"-{tmp_path.name}"
    good = [unique(r, suffix) for r in records("abandoned") + records("timeout")]
    poison = dataclasses.replace(unique(records("answered")[0], suffix), direction=None)
    writer = await write(database, [good[0], poison, good[1]], tmp_path)
    assert writer.set_aside == 1
    sessions = session_factory(database)
    async with sessions() as session:
        stored = set(await session.scalars(select(Call.linkedid).where(
            Call.linkedid.in_([r.linkedid for r in [*good, poison]]))))
    assert stored == {good[0].linkedid, good[1].linkedid}
    [line] = (tmp_path / "dead.jsonl").read_text().splitlines()
    kept = json.loads(line)
    assert kept["record"]["linkedid"] == poison.linkedid and kept["type"] == "CallRecord"


async def test_recordings_of_calls_nobody_answered_are_deleted(database, tmp_path):
    suffix = f"-{tmp_path.name}"
    [abandoned] = records("abandoned")
    [answered] = records("answered")
    files = {}
    for name in ("abandoned", "answered"):
        path = tmp_path / f"{name}.wav"
        path.write_bytes(b"RIFF" + bytes(100))
        files[name] = path
    abandoned = dataclasses.replace(unique(abandoned, suffix),
                                    recordings=(str(files["abandoned"]),))
    answered = dataclasses.replace(unique(answered, suffix),
                                   recordings=(str(files["answered"]),))
    await write(database, [abandoned, answered], tmp_path)
    assert not files["abandoned"].exists() and files["answered"].exists()
    sessions = session_factory(database)
    async with sessions() as session:
        kept = set(await session.scalars(select(Recording.linkedid).where(
            Recording.linkedid.in_([abandoned.linkedid, answered.linkedid]))))
    assert kept == {answered.linkedid}


async def test_records_pending_at_shutdown_are_written_by_the_next_start(tmp_path):
    """The database is unreachable when the service stops: the records wait on disk."""
    down = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db")
    writer = RecordWriter(down, session_factory(down), dead_letter=tmp_path / "dead.jsonl",
                          max_in_memory=2, max_backoff=0.1)
    task = asyncio.create_task(writer.run())
    calls = records("abandoned") + records("timeout") + records("answered")
    for call in calls:
        writer.submit([call])  # the third one spills
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    writer.save_pending()
    await down.dispose()
    assert writer.spill_file.exists()

    url = f"sqlite+aiosqlite:///{tmp_path}/db.db"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    again = await write(engine, [], tmp_path)  # a new writer finds them and writes them
    assert again.written == len(calls) and not again.spill_file.exists()
    async with session_factory(engine)() as session:
        assert set(await session.scalars(select(Call.linkedid))) == {c.linkedid for c in calls}
    await engine.dispose()
