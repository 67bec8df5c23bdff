"""The remote PBX's ledger: CEL and queue_log rows Asterisk writes into our PostgreSQL
(cel_pgsql, queue_log realtime), read by id in batches, the position committed with the
records, a restart resuming there: the same records as the files give for the same calls."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from callcenter.calls.ledger import LedgerFollower
from callcenter.calls.models import Call, CallLeg, LedgerPosition
from callcenter.db import create_engine, session_factory
from callcenter.ledger.derive import CelEvent, QueueLogLine
from callcenter.ledger.files import FilePosition
from callcenter.ledger.tables import CEL_TABLE, QUEUE_LOG_TABLE, TableTail
from callcenter.migrate import upgrade
from tests.test_ledger import ALL, EXPECTED, lines, stop, until
from tests.unit.test_ledger_derive import trace_clock


@pytest.fixture
async def engine(postgres):
    """A database of its own: the ledger tables' ids start at 1 and nothing else writes."""
    url = postgres.create_database(f"tables_{uuid.uuid4().hex[:10]}")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def cel_row(line: str) -> dict[str, object]:
    """A cel_custom JSON line as cel_pgsql writes the same event (its column names)."""
    raw = json.loads(line)
    return {"eventtype": raw["eventtype"], "eventtime": raw["eventtime"],
            "userdeftype": raw["userdeftype"], "cid_name": raw["name"], "cid_num": raw["num"],
            "exten": raw["exten"], "context": raw["context"], "channame": raw["channame"],
            "appname": raw["appname"], "appdata": raw["appdata"], "uniqueid": raw["uniqueid"],
            "linkedid": raw["linkedid"], "peer": raw["peer"], "extra": raw["eventextra"]}


def queue_log_row(line: str) -> dict[str, object]:
    """A queue_log file line as queue_log realtime writes it (UTC time, data1..data5)."""
    parts = line.rstrip("\n").split("|")
    data = parts[5:10] if len(parts) <= 10 else [*parts[5:9], "|".join(parts[9:])]
    data += [""] * (5 - len(data))  # every field written, empty or not
    return {"time": datetime.fromtimestamp(float(parts[0]), UTC).replace(tzinfo=None),
            "callid": parts[1], "queuename": parts[2], "agent": parts[3], "event": parts[4],
            **{f"data{i}": value for i, value in enumerate(data, start=1)}}


async def insert(engine, table: sa.Table, rows: list[dict[str, object]]) -> None:
    if rows:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(table), rows)


def test_rows_give_the_events_the_lines_give():
    for cel, queue_log in ALL:
        for line in lines(cel):
            assert CelEvent.from_row(cel_row(line)) == CelEvent.parse(line)
        for line in lines(queue_log):
            parsed = QueueLogLine.parse(line)
            assert parsed is not None
            # the file keeps an empty last field ("...|"); a row has no trailing empty ones
            data = list(parsed.data)
            while data and not data[-1]:
                data.pop()
            assert QueueLogLine.from_row(queue_log_row(line)) == dataclasses.replace(
                parsed, data=tuple(data))
    # an aware timestamp is taken as it is; a naive one as UTC
    aware = queue_log_row(lines("queue_log-1")[0]) | {
        "time": datetime(2026, 11, 24, 12, 0, 0, 250000, tzinfo=UTC)}
    assert QueueLogLine.from_row(aware).at == 1795521600.25  # type: ignore[union-attr]
    assert QueueLogLine.from_row({"time": None}) is None


async def test_table_tail_reads_in_batches_and_resumes_from_a_position(engine):
    sessions = session_factory(engine)
    loop = asyncio.get_running_loop()
    rows = [queue_log_row(line) for line in lines("queue_log-1")[:5]]
    await insert(engine, QUEUE_LOG_TABLE, rows[:3])
    # a first run begins after what is there already, unless told to read from the start
    fresh = TableTail(QUEUE_LOG_TABLE, sessions, None, loop=loop)
    assert await asyncio.to_thread(fresh.read) == []
    assert (fresh.started, fresh.end, fresh.caught_up) == (True, 4, True)

    tail = TableTail(QUEUE_LOG_TABLE, sessions, None, loop=loop, from_start=True, batch=2)
    assert not tail.started
    first = await asyncio.to_thread(tail.read)
    assert [mark for mark, _ in first] == [1, 2] and not tail.caught_up
    assert [row["event"] for _, row in first] == [r["event"] for r in rows[:2]]
    await insert(engine, QUEUE_LOG_TABLE, rows[3:])
    second = await asyncio.to_thread(tail.read)
    third = await asyncio.to_thread(tail.read)
    assert [mark for mark, _ in second + third] == [3, 4, 5]
    assert tail.caught_up and tail.end == 6
    assert tail.position(tail.end) == FilePosition(0, 0, 6)
    assert await asyncio.to_thread(tail.read) == []

    # a restart from a committed position reads from that row on, and only that
    again = TableTail(QUEUE_LOG_TABLE, sessions, tail.position(4), loop=loop)
    assert [mark for mark, _ in await asyncio.to_thread(again.read)] == [4, 5]
    with pytest.raises(RuntimeError):
        again.read()  # on the event loop it would block it


async def test_table_tail_waits_for_a_hole_then_passes_it(engine):
    sessions = session_factory(engine)
    now = [0.0]
    tail = TableTail(QUEUE_LOG_TABLE, sessions, FilePosition(0, 0, 1),
                     loop=asyncio.get_running_loop(), gap_wait=5.0, clock=lambda: now[0])
    row = queue_log_row(lines("queue_log-1")[0])
    await insert(engine, QUEUE_LOG_TABLE, [row | {"id": 1}, row | {"id": 4}])
    assert [mark for mark, _ in await asyncio.to_thread(tail.read)] == [1]
    assert not tail.caught_up  # ids 2 and 3: an insert may still be in flight
    now[0] = 4.0
    await insert(engine, QUEUE_LOG_TABLE, [row | {"id": 2}])  # it was
    assert [mark for mark, _ in await asyncio.to_thread(tail.read)] == [2]
    assert await asyncio.to_thread(tail.read) == []
    now[0] = 9.5  # id 3 never comes (a failed insert spent it)
    assert [mark for mark, _ in await asyncio.to_thread(tail.read)] == [4]
    assert (tail.skipped_ids, tail.end, tail.caught_up) == (1, 5, True)


async def follow(sessions) -> tuple[LedgerFollower, asyncio.Task]:
    follower = LedgerFollower(source="tables", sessions=sessions, from_start=True,
                              poll_interval=0.02, clock=trace_clock())
    return follower, asyncio.create_task(follower.run())


async def test_every_call_once_across_a_restart(engine):
    sessions = session_factory(engine)
    first_cel = lines("cel-1.jsonl")
    ends = [i for i, line in enumerate(first_cel) if "LINKEDID_END" in line]
    cut = ends[1] + 4  # two calls over, the third one going
    await insert(engine, CEL_TABLE, [cel_row(line) for line in first_cel[:cut]])
    await insert(engine, QUEUE_LOG_TABLE, [queue_log_row(line) for line in lines("queue_log-1")])
    follower, task = await follow(sessions)

    async def stored() -> dict[str, Call]:
        async with sessions() as session:
            return {c.linkedid: c for c in await session.scalars(select(Call))}

    async def two_written() -> bool:
        return len(await stored()) >= 2

    await until(two_written)
    assert follower.deriver.calls  # a call open when the service dies
    await stop(task)  # as a kill -9 would: nothing more is committed
    async with sessions() as session:
        committed = {p.source: p.offset for p in await session.scalars(select(LedgerPosition))}
    assert 1 < committed["cel"] <= cut  # the open call's first row, read again on restart

    await insert(engine, CEL_TABLE, [cel_row(line) for line in first_cel[cut:]])
    await insert(engine, CEL_TABLE, [cel_row(line) for line in lines("cel-2.jsonl")])
    await insert(engine, QUEUE_LOG_TABLE, [queue_log_row(line) for line in lines("queue_log-2")])
    follower, task = await follow(sessions)

    async def all_written() -> bool:
        return len(await stored()) == len(EXPECTED)

    try:
        await until(all_written)
        assert follower.health()["source"] == "tables"
    finally:
        await stop(task)
    calls = await stored()
    assert set(calls) == set(EXPECTED)
    for linkedid, record in EXPECTED.items():
        call = calls[linkedid]
        assert (call.source, call.outcome, call.queue, call.agent, call.wait_seconds,
                call.talk_seconds, call.hangup_by, call.ended_at) == (
            "ledger", record.outcome, record.queue, record.agent, record.wait_seconds,
            record.talk_seconds, record.hangup_by, record.ended_at), linkedid
    async with sessions() as session:
        legs = await session.scalar(select(func.count()).select_from(CallLeg))
        positions = {p.source: p for p in await session.scalars(select(LedgerPosition))}
    assert legs == sum(len(r.legs) for r in EXPECTED.values())  # none doubled
    cel_rows = len(lines("cel-1.jsonl")) + len(lines("cel-2.jsonl"))
    assert (positions["cel"].device, positions["cel"].inode,
            positions["cel"].offset) == (0, 0, cel_rows + 1)
