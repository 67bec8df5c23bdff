"""The record writer on both databases: idempotent, callbacks, poison records set aside;
records on disk (spill and dead letters) by field name, in order; `callcenter spool replay`."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from callcenter import cli
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call, CallLeg
from callcenter.calls.spool import Spool
from callcenter.calls.store import CODEC, RecordWriter
from callcenter.calls.tracker import AgentStateRecord, CallRecord, CallTracker
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from tests.unit.trace import messages


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
    await writer.save_pending()
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


# -- records on disk: JSON lines with field names ------------------------------------------

def agent_state(n: int) -> AgentStateRecord:
    return AgentStateRecord(agent=f"agent-{n}", interface=f"PJSIP/{1000 + n}", queue="sales",
                            state="pause", reason=None,
                            at=datetime(2026, 1, 2, 10, 0, n, 250_000, tzinfo=UTC))


def test_every_record_type_round_trips_by_field_name():
    [call] = records("answered")
    assert call.legs and call.queue_entries and call.recordings  # nested records and tuples
    for record in (call, agent_state(1)):
        line = CODEC.dumps(record)
        assert CODEC.loads(line) == record
    data = json.loads(CODEC.dumps(call))
    assert data["type"] == "CallRecord"
    assert data["started_at"].endswith("+00:00")  # ISO-8601 with its offset
    assert isinstance(data["legs"], list) and data["legs"][0]["uniqueid"] == call.legs[0].uniqueid
    assert data["queue_entries"][0]["queue"] == call.queue_entries[0].queue


def test_a_line_written_before_a_field_existed_takes_its_default_or_none():
    [call] = records("answered")
    data = CODEC.encode(call)
    del data["source"], data["ivr_path"]  # one with a default, one without
    del data["legs"][0]["hangup_cause"]
    old = CODEC.decode(data)
    assert old.source == "ami" and old.ivr_path is None and old.legs[0].hangup_cause is None
    assert old.linkedid == call.linkedid and old.outcome == call.outcome
    assert old.legs[1:] == call.legs[1:]


def test_an_unknown_field_is_ignored_with_a_warning_never_shifted(caplog):
    [call] = records("answered")
    data = CODEC.encode(call)
    # a field of a later version, placed first, and one in a nested leg
    data = {"type": data.pop("type"), "sentiment": "calm", **data}
    data["legs"][0]["codec"] = "opus"
    with caplog.at_level(logging.WARNING, logger="callcenter.calls.spool"):
        assert CODEC.decode(data) == call
    assert "unknown field in a stored record ignored" in caplog.text


class OrderedWriter(RecordWriter):
    """The writer without a database: `_write` notes what it writes, or fails while down."""

    def __init__(self, tmp_path, **kwargs) -> None:
        # an unreachable database: ping() says it is down, so failures are retried, not set aside
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x.db")
        super().__init__(engine, session_factory(engine), dead_letter=tmp_path / "dead.jsonl",
                         max_backoff=0.05, **kwargs)
        self.down = False
        self.fail_after: int | None = None
        self.order: list[str] = []
        self.refused = asyncio.Event()

    async def _write(self, batch):
        if self.fail_after is not None and len(self.order) >= self.fail_after:
            self.down = True
        if self.down:
            self.refused.set()
            raise OSError("database down")
        self.order += [r.agent for r in batch]


async def test_order_is_kept_across_spill_read_back_save_pending_and_restart(tmp_path,
                                                                           monkeypatch):
    threads: dict[int, set[int]] = {}

    def noting_the_thread(original):
        def on_thread(self, *args):
            threads.setdefault(id(self), set()).add(threading.get_ident())
            return original(self, *args)
        return on_thread

    for name in ("_count_lines", "_append", "_read", "_prepend", "_remove"):
        monkeypatch.setattr(Spool, name, noting_the_thread(getattr(Spool, name)))
    submitted = [agent_state(n) for n in range(8)]

    # the database is down: two records in memory, the rest spilled; then the service stops
    first = OrderedWriter(tmp_path, max_in_memory=2)
    first.down = True
    task = asyncio.create_task(first.run())
    for record in submitted[:6]:
        first.submit([record])
    await asyncio.wait_for(first.refused.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert first.pending == 6 and first.health()["spilled"] == 4
    await first.save_pending()
    await first.close()
    lines = [json.loads(line) for line in first.spill_file.read_text().splitlines()]
    assert [line["agent"] for line in lines] == [r.agent for r in submitted[:6]]
    assert {line["type"] for line in lines} == {"AgentStateRecord"}

    # next start: one record is written, then the database goes again mid read-back
    second = OrderedWriter(tmp_path, max_in_memory=2)
    assert second.pending == 6
    second.fail_after = 1
    task = asyncio.create_task(second.run())
    await asyncio.wait_for(second.refused.wait(), 5)
    second.submit([submitted[6]])  # behind everything on disk
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await second.save_pending()
    await second.close()
    assert second.order == [submitted[0].agent]

    # and the start after that writes the rest, in order, with one more arriving meanwhile
    third = OrderedWriter(tmp_path, max_in_memory=2)
    assert third.pending == 6
    task = asyncio.create_task(third.run())
    third.submit([submitted[7]])
    await third.drain(timeout=5)
    task.cancel()
    await third.close()
    assert second.order + third.order == [r.agent for r in submitted]
    assert not third.spill_file.exists() and third.pending == 0
    main_thread = threading.get_ident()
    assert threads and all(len(ids) == 1 and main_thread not in ids
                           for ids in threads.values())


async def test_a_spilled_line_this_version_cannot_read_is_set_aside(tmp_path):
    spill = tmp_path / "pending-records.jsonl"
    spill.write_text(CODEC.dumps(agent_state(1)) + "\n"
                     + '{"type": "RecordOfTheFuture", "x": 1}\n'
                     + CODEC.dumps(agent_state(2)))  # the last line cut short of its newline
    writer = OrderedWriter(tmp_path)
    assert writer.pending == 3
    task = asyncio.create_task(writer.run())
    writer.submit([agent_state(3)])
    await writer.drain(timeout=5)
    task.cancel()
    await writer.close()
    assert writer.order == ["agent-1", "agent-2", "agent-3"]
    [dead] = [json.loads(line) for line in writer.dead_letter.read_text().splitlines()]
    assert "RecordOfTheFuture" in dead["error"] and "RecordOfTheFuture" in dead["record"]["line"]


# -- callcenter spool replay ----------------------------------------------------------------

def test_spool_replay_writes_what_the_database_now_takes_and_keeps_the_rest(
        tmp_path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/replay.db"
    upgrade(url)
    spool = tmp_path / "spool"
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", url)
    monkeypatch.setenv("CALLCENTER_SPOOL_DIR", str(spool))
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)

    assert cli.main(["spool", "replay"]) == 0
    assert "no dead letters" in capsys.readouterr().out

    [fixed] = records("answered")  # refused once (say, before a migration), fine now
    poison = dataclasses.replace(records("timeout")[0], direction=None)

    async def refused_once() -> RecordWriter:
        engine = create_engine(url)
        writer = RecordWriter(engine, session_factory(engine),
                              dead_letter=spool / "unwritten-records.jsonl")
        writer._set_aside(fixed, RuntimeError("column missing"))
        writer._set_aside(poison, RuntimeError("NOT NULL"))
        await writer.close()
        await engine.dispose()
        return writer

    writer = asyncio.run(refused_once())

    assert cli.main(["spool", "replay"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"line 1: CallRecord {fixed.linkedid}: written"
    assert out[1].startswith(f"line 2: CallRecord {poison.linkedid}: still refused: "
                             "IntegrityError: NOT NULL constraint failed: calls.direction")
    [left] = [json.loads(line) for line in writer.dead_letter.read_text().splitlines()]
    assert left["record"]["linkedid"] == poison.linkedid
    assert left["error"].startswith("IntegrityError")

    async def stored() -> set[str]:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            linkedids = set(await session.scalars(select(Call.linkedid)))
        await engine.dispose()
        return linkedids

    assert asyncio.run(stored()) == {fixed.linkedid}

    # the operator corrects the record by hand: the next replay writes it, the file goes
    left["record"]["direction"] = "inbound"
    writer.dead_letter.write_text(json.dumps(left) + "\n")
    assert cli.main(["spool", "replay"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("1 written, 0 left")
    assert not writer.dead_letter.exists()
    assert asyncio.run(stored()) == {fixed.linkedid, poison.linkedid}


async def test_a_read_back_cut_short_by_shutdown_loses_nothing(tmp_path, monkeypatch):
    """The service stops while the spool thread is reading: what it read comes right after
    memory, ahead of the rest of the file."""
    reading, release = threading.Event(), threading.Event()
    read = Spool._read

    def slow_read(self, *args):
        reading.set()
        release.wait(5)
        return read(self, *args)

    monkeypatch.setattr(Spool, "_read", slow_read)
    spool = Spool(tmp_path / "pending.jsonl", CODEC, on_undecodable=lambda *a: None,
                  on_unspilled=lambda records: None)
    spool.put([agent_state(n) for n in (2, 3, 4)])
    taking = asyncio.create_task(spool.take(2))
    await asyncio.to_thread(reading.wait, 5)
    taking.cancel()
    release.set()
    await asyncio.gather(taking, return_exceptions=True)
    await spool.put_ahead([agent_state(1)])  # memory at shutdown
    await spool.close()
    agents = [json.loads(line)["agent"] for line in spool.path.read_text().splitlines()]
    assert agents == ["agent-1", "agent-2", "agent-3", "agent-4"] and spool.count == 4
