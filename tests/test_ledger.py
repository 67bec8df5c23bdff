"""The ledger follower on both databases, on CEL and queue_log recorded from the real Asterisk:
every call exactly once across a rotation and a restart, live records corrected, never
downgraded, never written twice."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.callbacks.models import Callback
from callcenter.calls.ledger import LedgerFollower
from callcenter.calls.models import Call, CallLeg, LedgerPosition
from callcenter.calls.persist import save_calls
from callcenter.db import session_factory
from callcenter.ledger.files import FileTail
from tests.unit.test_ledger_derive import LEDGER, derive, trace_clock

ALL = [("cel-1.jsonl", "queue_log-1"), ("cel-2.jsonl", "queue_log-2")]


def lines(name: str) -> list[str]:
    return (LEDGER / name).read_text().splitlines(keepends=True)


def append(path: Path, chunk: list[str]) -> None:
    with path.open("a") as file:
        file.writelines(chunk)


async def follow(sessions, directory: Path, **kw) -> tuple[LedgerFollower, asyncio.Task]:
    follower = LedgerFollower(cel_path=directory / "cel.jsonl",
                              queue_log_path=directory / "queue_log", sessions=sessions,
                              from_start=True, poll_interval=0.02, clock=trace_clock(),
                              **kw)
    return follower, asyncio.create_task(follower.run())


EXPECTED = derive(ALL)


async def calls_in(sessions) -> dict[str, Call]:
    """This ledger's calls (the PostgreSQL database is shared with other tests)."""
    async with sessions() as session:
        return {c.linkedid: c for c in await session.scalars(
            select(Call).where(Call.linkedid.in_(EXPECTED)))}


async def until(predicate, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_every_call_once_across_rotation_and_restart(database, tmp_path):
    sessions = session_factory(database)
    cel, queue_log = tmp_path / "cel.jsonl", tmp_path / "queue_log"
    first_cel = lines("cel-1.jsonl")
    ends = [i for i, line in enumerate(first_cel) if "LINKEDID_END" in line]
    cut = ends[1] + 4  # two calls over, the third one going
    append(cel, first_cel[:cut])
    append(queue_log, lines("queue_log-1"))
    follower, task = await follow(sessions, tmp_path)

    async def two_written() -> bool:
        return len(await calls_in(sessions)) >= 2

    await until(two_written)
    assert follower.deriver.calls  # a call open when the service dies
    await stop(task)  # as a kill -9 would: nothing more is committed

    # the rest of the first file, then the rotation (rename), then the new files
    append(cel, first_cel[cut:])
    cel.rename(tmp_path / "cel.jsonl.1")
    queue_log.rename(tmp_path / "queue_log.1")
    append(cel, lines("cel-2.jsonl"))
    append(queue_log, lines("queue_log-2"))
    follower, task = await follow(sessions, tmp_path)
    expected = EXPECTED

    async def all_written() -> bool:
        return len(await calls_in(sessions)) == len(expected)

    try:
        await until(all_written)
    finally:
        await stop(task)
    stored = await calls_in(sessions)
    for linkedid, record in expected.items():
        call = stored[linkedid]
        assert (call.source, call.evidence, call.outcome, call.queue, call.agent) == (
            "ledger", 3, record.outcome, record.queue, record.agent)
    async with sessions() as session:
        legs = await session.scalar(select(func.count()).select_from(CallLeg).where(
            CallLeg.linkedid.in_(expected)))
        positions = {p.source: p for p in await session.scalars(select(LedgerPosition))}
    assert legs == sum(len(r.legs) for r in expected.values())  # none doubled
    assert positions["cel"].offset == cel.stat().st_size
    assert positions["cel"].inode == cel.stat().st_ino


async def test_live_record_corrected_by_the_ledger_never_the_reverse(database):
    sessions = session_factory(database)
    [ledger] = [r for r in derive(ALL).values() if r.outcome == "answered" and r.queue][:1]
    ledger = dataclasses.replace(ledger, linkedid=f"corr-{id(database)}",
                                 legs=(), queue_entries=(), recordings=())
    # the live path missed the answer (a gap) and closed it as abandoned, end inferred
    live = dataclasses.replace(ledger, source="ami", end_inferred=True, outcome="abandoned",
                               agent=None, answered_at=None, talk_seconds=None, vip=True,
                               ivr_path="main>2")
    async with sessions() as session, session.begin():
        assert len(await save_calls(session, [live], final=False,
                                    keep_unanswered_recordings=False)) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Callback).where(
            Callback.linkedid == live.linkedid, Callback.status == "open")) == 1
    async with sessions() as session, session.begin():
        [saved] = await save_calls(session, [ledger], final=True,
                                   keep_unanswered_recordings=False)
        assert saved.replaced_outcome == "abandoned"
    # the same ledger record again, or a live one after it: nothing is written
    for again in (ledger, dataclasses.replace(live, end_inferred=False)):
        async with sessions() as session, session.begin():
            assert await save_calls(session, [again], final=True,
                                    keep_unanswered_recordings=False) == []
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == ledger.linkedid))
        callbacks = await session.scalar(select(func.count()).select_from(Callback).where(
            Callback.linkedid == live.linkedid, Callback.status == "open"))
    assert (call.outcome, call.agent, call.source, call.evidence) == (
        "answered", ledger.agent, "ledger", 3)
    assert (call.vip, call.ivr_path) == (True, "main>2")  # what only AMI knew is kept
    assert callbacks == 0  # the abandoned call's callback withdrawn


def test_tail_reads_a_truncated_file_from_its_start(tmp_path):
    path = tmp_path / "queue_log"
    path.write_text("1|a|q|NONE|ENTERQUEUE||1|1\n2|a|q|NONE|ABANDON|1|1|1\n")
    tail = FileTail(path, None, from_start=True)
    assert len(tail.read()) == 2
    path.write_text("3|b|q|NONE|ENTERQUEUE||2|1\n")  # truncated and written again
    assert [line for _, line in tail.read()] == [b"3|b|q|NONE|ENTERQUEUE||2|1"]
    with path.open("a") as file:
        file.write("4|b|q|NONE|ABAN")  # a line still being written is not read
    assert tail.read() == []
    with path.open("a") as file:
        file.write("DON|1|1|1\n")
    assert [line for _, line in tail.read()] == [b"4|b|q|NONE|ABANDON|1|1|1"]
    tail.close()


def test_first_run_starts_at_the_end_without_history(tmp_path):
    path = tmp_path / "cel.jsonl"
    path.write_text('{"old": 1}\n')
    tail = FileTail(path, None)
    assert tail.read() == []
    with path.open("a") as file:
        file.write('{"new": 1}\n')
    assert [line for _, line in tail.read()] == [b'{"new": 1}']
    tail.close()


@pytest.fixture(autouse=True)
def _quiet_migrations(caplog):
    caplog.set_level("WARNING", logger="alembic")


@pytest.mark.parametrize("delete_opted_out", [True, False])
async def test_unknown_consent_settled_by_the_final_record(database, tmp_path,
                                                          delete_opted_out):
    """Recorded while nobody could check the opt-out (the dialplan's fallback): the final
    record deletes the recording of a caller who had opted out ("skip"), or keeps it
    ("flag")."""
    from callcenter.contacts.models import Contact, ContactNumber

    sessions = session_factory(database)
    [answered] = [r for r in EXPECTED.values() if r.outcome == "answered" and r.queue][:1]
    caller = f"+7916{uuid.uuid4().int % 10_000_000:07d}"
    recording = tmp_path / "call.wav"
    recording.write_bytes(b"RIFF")
    record = dataclasses.replace(answered, linkedid=f"consent-{uuid.uuid4().hex}", caller=caller,
                                 legs=(), queue_entries=(), recordings=(str(recording),),
                                 consent_unknown=True)
    async with sessions() as session, session.begin():
        session.add(Contact(name="Opted Out", recording_opt_out=True,
                            numbers=[ContactNumber(number=caller)]))
    async with sessions() as session, session.begin():
        await save_calls(session, [record], final=True, keep_unanswered_recordings=False,
                         delete_opted_out=delete_opted_out)
    assert recording.exists() is not delete_opted_out


async def test_a_refused_record_is_set_aside_and_the_rest_go_on(migrated_postgres, tmp_path):
    """Bad data the database refuses (here a NUL, which PostgreSQL text cannot hold) would
    hold every call behind it: it goes to the dead letters, the others and the position on."""
    from callcenter.calls.ledger import _Step
    from callcenter.db import create_engine
    from callcenter.ledger.files import FilePosition

    engine = create_engine(migrated_postgres)
    sessions = session_factory(engine)
    kept: list[str] = []
    follower = LedgerFollower(cel_path=tmp_path / "cel", queue_log_path=tmp_path / "q",
                              sessions=sessions,
                              set_aside=lambda record, exc: kept.append(record.linkedid))
    good, bad = [dataclasses.replace(r, linkedid=f"{name}-{id(tmp_path)}", legs=(),
                                     queue_entries=(), recordings=())
                 for name, r in zip(("good", "bad"), list(EXPECTED.values())[:2], strict=True)]
    bad = dataclasses.replace(bad, caller_name="Ива\x00н")
    position = FilePosition(1, 2, 300)
    try:
        await follower._commit_or_set_aside(_Step([bad, good], {"cel": position}, 2, False))
        async with sessions() as session:
            written = set(await session.scalars(select(Call.linkedid).where(
                Call.linkedid.in_([good.linkedid, bad.linkedid]))))
            stored = await session.get(LedgerPosition, "cel")
    finally:
        await engine.dispose()
    assert (written, kept, follower.set_aside_count) == ({good.linkedid}, [bad.linkedid], 1)
    assert (stored.device, stored.inode, stored.offset) == (1, 2, 300)


async def test_the_live_record_after_the_ledgers_adds_what_only_it_knows(database):
    """The ledger can be quicker than the live writer: its final record stands, and the live
    record, arriving second, still adds the contact, VIP, IVR path and opt-out flag."""
    sessions = session_factory(database)
    [ledger] = [r for r in EXPECTED.values() if r.outcome == "answered" and r.queue][:1]
    ledger = dataclasses.replace(ledger, linkedid=f"late-{uuid.uuid4().hex}", legs=(),
                                 queue_entries=(), recordings=())
    live = dataclasses.replace(ledger, source="ami", agent="Someone else", vip=True,
                               contact_id=7, ivr_path="main>1", recording_opt_out=True)
    for record, final in ((ledger, True), (live, False)):
        async with sessions() as session, session.begin():
            await save_calls(session, [record], final=final, keep_unanswered_recordings=False)
    async with sessions() as session:
        call = await session.scalar(select(Call).where(Call.linkedid == ledger.linkedid))
    assert (call.source, call.agent) == ("ledger", ledger.agent)  # the ledger's stands
    assert (call.vip, call.contact_id, call.ivr_path, call.recording_opt_out) == (
        True, 7, "main>1", True)
