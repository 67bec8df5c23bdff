"""The outbox on both databases: events written in the transaction of their change (or not at
all), a call ends once and each correction is an update; the deliverer against a real local
HTTP receiver: signed, in order per call, retried with back-off, dead-lettered, redelivered."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import selectinload
from sqlalchemy.util import await_only

from callcenter.calls.models import Call
from callcenter.calls.persist import save_calls
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import AgentStateRecord, CallRecord, CallTracker
from callcenter.contacts.importer import Report, Row, aenumerate, apply, parse_file, spooled
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.outbox.contacts import contact_changed, contact_changed_event
from callcenter.outbox.deliver import Deliverer
from callcenter.outbox.emit import Event, emit_many, signal
from callcenter.outbox.live import LiveCallEvents
from callcenter.outbox.models import OutboxEvent, OutboxStaged, WebhookDelivery
from callcenter.outbox.service import create_subscription, redeliver
from callcenter.outbox.staged import release
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import recording_path
from callcenter.recordings.sweep import sweep_orphans
from callcenter.settings import Settings
from tests.test_store import unique
from tests.unit.trace import messages
from tests.webhook_receiver import Receiver


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path):
    """Each test's own database: a running service's deliverer (the integration suite's,
    on the shared PostgreSQL database) must not deliver this test's subscriptions too."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/test.db"
    else:
        url = request.getfixturevalue("postgres").create_database(
            f"outbox_{uuid.uuid4().hex[:10]}")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def answered_call(suffix: str) -> tuple[list, CallRecord]:
    """The recorded answered call under a fresh Linkedid, with its live ringing/answered."""
    tracker, live, records = CallTracker(), [], []
    events = LiveCallEvents(live.extend, "RU")
    for message in messages("answered"):
        records += tracker.handle(message)
        events.on_event(message)
    [call] = [r for r in records if isinstance(r, CallRecord)]
    call = unique(call, suffix)
    live = [dataclasses.replace(e, linkedid=call.linkedid) for e in live]
    return live, call


async def events_of(sessions, key: str) -> list[OutboxEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.ordering_key == key).order_by(OutboxEvent.id)))


async def test_a_call_ends_once_and_corrections_are_updates(database, tmp_path):
    sessions = session_factory(database)
    live, call = answered_call(f"-ob-{uuid.uuid4().hex[:8]}")
    writer = RecordWriter(database, sessions, dead_letter=tmp_path / "dead.jsonl")
    task = asyncio.create_task(writer.run())
    writer.submit([*live, call])
    await writer.drain(timeout=20)
    writer.submit([call])  # written again (a retried batch): nothing new
    await writer.drain(timeout=20)
    task.cancel()
    async with sessions() as session, session.begin():  # the ledger's record corrects it
        await save_calls(session, [dataclasses.replace(call, source="ledger")], final=True,
                         keep_unanswered_recordings=False)
    events = await events_of(sessions, call.linkedid)
    types = [e.type for e in events]
    assert types[:2] == ["call.ringing", "call.answered"]
    assert types.count("call.ended") == 1 and types.count("call.updated") == 1
    assert types.index("call.ended") < types.index("call.updated")
    ended = next(e for e in events if e.type == "call.ended")
    assert ended.payload["outcome"] == "answered" and ended.payload["agent"] == call.agent
    assert ended.payload["caller"] == call.caller and ended.payload["legs"]
    updated = next(e for e in events if e.type == "call.updated")
    assert updated.payload["source"] == "ledger" and updated.payload["evidence"] == 3
    assert updated.payload["previous_outcome"] == "answered"
    ringing = events[0].payload
    assert ringing["agent"] == call.agent and ringing["queue"] == call.queue


async def test_an_event_is_never_written_without_its_change(database):
    sessions = session_factory(database)
    _, call = answered_call(f"-rb-{uuid.uuid4().hex[:8]}")
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await save_calls(session, [call], final=True, keep_unanswered_recordings=True)
            raise RuntimeError("the transaction fails after the record was written")
    assert await events_of(sessions, call.linkedid) == []


async def test_an_abandoned_call_emits_one_callback_and_agent_states_once(database, tmp_path):
    sessions = session_factory(database)
    tracker = CallTracker()
    [call] = [r for m in messages("abandoned") for r in tracker.handle(m)
              if isinstance(r, CallRecord)]
    call = unique(call, f"-cb-{uuid.uuid4().hex[:8]}")
    call = dataclasses.replace(call, caller=f"+7916{uuid.uuid4().int % 10**7:07d}")
    agent = f"Agent-{uuid.uuid4().hex[:6]}"
    state = AgentStateRecord(agent, "PJSIP/9", "support", "pause", "lunch",
                             datetime(2026, 12, 4, 12, tzinfo=UTC))
    writer = RecordWriter(database, sessions, dead_letter=tmp_path / "dead.jsonl")
    task = asyncio.create_task(writer.run())
    writer.submit([state, state, call])
    await writer.drain(timeout=20)
    writer.submit([state, call])  # again (a retried batch): nothing new
    await writer.drain(timeout=20)
    task.cancel()
    states = await events_of(sessions, f"agent-{agent}")
    assert [(e.type, e.payload["state"], e.payload["reason"]) for e in states] == [
        ("agent.state_changed", "pause", "lunch")]
    events = await events_of(sessions, call.linkedid)
    assert [e.type for e in events] == ["call.ended", "callback.created"]
    callback = events[1].payload
    assert (callback["number"], callback["queue"], callback["source"]) == (
        call.caller, call.queue, "abandoned")


async def settled(sessions, timeout: float = 20) -> None:
    """Until no delivery is pending (the deliverer commits each outcome after the receiver
    answered: stopping it sooner would send the last one again, at least once)."""
    async with asyncio.timeout(timeout):
        while True:
            async with sessions() as session:
                if not await session.scalar(select(WebhookDelivery.id).where(
                        WebhookDelivery.state == "pending").limit(1)):
                    return
            await asyncio.sleep(0.05)


def _settings(**kw) -> Settings:
    return Settings(webhook_retry_base_seconds=0.2, webhook_retry_max_seconds=0.5,
                    webhook_timeout_seconds=2, **kw)


async def _subscribe(sessions, receiver: Receiver, events: list[str], role: str = "admin"):
    async with sessions() as session, session.begin():
        return (await create_subscription(
            session, url=receiver.url, events=events, role=role, created_by="test",
            secret=receiver.secret, allow_private=True, private_allowed_by_setting=False)).id


async def _emit(sessions, items: list[Event]) -> list[str]:
    async with sessions() as session, session.begin():
        return await emit_many(session, items)


async def test_delivered_signed_in_order_per_key_retried_then_dead_then_redelivered(database):
    sessions = session_factory(database)
    receiver = Receiver("a-secret-of-enough-length")
    await receiver.start()
    sub = await _subscribe(sessions, receiver, ["call.ringing", "call.ended"])
    deliverer = Deliverer(sessions, _settings())
    task = asyncio.create_task(deliverer.run())
    try:
        keys = [f"k-{uuid.uuid4().hex[:8]}" for _ in range(5)]
        ids = []
        for step in range(4):  # interleaved: key order must hold across them
            ids += await _emit(sessions, [
                Event("call.ringing" if step < 3 else "call.ended",
                      {"linkedid": key, "step": step, "caller": "+79161234567"}, key)
                for key in keys])
        # an event nobody subscribed to is not sent
        await _emit(sessions, [Event("contact.changed", {"contact_id": 1}, "contact-1")])
        arrived = await receiver.wait_for(lambda a: {x.event_id for x in a} >= set(ids), 30)
        assert all(a.signature_valid and a.header_id_matches for a in arrived)
        assert {a.body["type"] for a in arrived} == {"call.ringing", "call.ended"}
        for key in keys:
            steps = [a.body["data"]["step"] for a in arrived if a.body["ordering_key"] == key]
            assert steps == [0, 1, 2, 3]
        assert arrived[0].body["data"]["caller"] == "+79161234567"  # an admin's subscription

        # the receiver fails: retried with back-off, the key's next event waits its turn
        receiver.status = 503
        [failing] = await _emit(sessions, [Event("call.ringing", {"n": 1}, "late")])
        [behind] = await _emit(sessions, [Event("call.ended", {"n": 2}, "late")])

        async def attempts() -> int:
            async with sessions() as session:
                row = await session.scalar(select(WebhookDelivery).join(
                    OutboxEvent, OutboxEvent.id == WebhookDelivery.outbox_id).where(
                    OutboxEvent.event_id == failing))
                return row.attempts if row else 0

        async with asyncio.timeout(20):
            while await attempts() < 3:
                await asyncio.sleep(0.1)  # polling the database's record of attempts
        receiver.status = 200
        arrived = await receiver.wait_for(lambda a: behind in {x.event_id for x in a}, 20)
        late = [a.event_id for a in arrived if a.body["ordering_key"] == "late"]
        assert late == [failing, behind]
        await settled(sessions)  # committed as delivered before the deliverer stops
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # past the retry window: dead-lettered, and the key goes on; an admin redelivers
    deliverer = Deliverer(sessions, _settings(webhook_retry_hours=0.5 / 3600))
    receiver.status = 500
    task = asyncio.create_task(deliverer.run())
    try:
        [doomed] = await _emit(sessions, [Event("call.ended", {"n": 3}, "doomed")])

        async def dead() -> WebhookDelivery | None:
            async with sessions() as session:
                return await session.scalar(select(WebhookDelivery).join(
                    OutboxEvent, OutboxEvent.id == WebhookDelivery.outbox_id).where(
                    WebhookDelivery.subscription_id == sub, WebhookDelivery.state == "dead",
                    OutboxEvent.event_id == doomed))

        async with asyncio.timeout(20):
            while (row := await dead()) is None:
                await asyncio.sleep(0.1)
        assert row.attempts >= 2 and "HTTP 500" in row.last_error
        receiver.status = 200
        async with sessions() as session, session.begin():
            await redeliver(session, row.id)
        signal.notify()
        await receiver.wait_for(lambda a: doomed in {x.event_id for x in a}, 20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await receiver.stop()


async def test_an_agent_role_subscription_gets_masked_numbers(database):
    sessions = session_factory(database)
    receiver = Receiver("another-secret-long-enough")
    await receiver.start()
    await _subscribe(sessions, receiver, ["callback.created"], role="agent")
    task = asyncio.create_task(Deliverer(sessions, _settings()).run())
    try:
        [sent] = await _emit(sessions, [Event("callback.created", {
            "callback_id": 1, "number": "+79161234567"}, "cb")])
        arrived = await receiver.wait_for(lambda a: sent in {x.event_id for x in a}, 20)
        number = next(a for a in arrived if a.event_id == sent).body["data"]["number"]
        assert number.endswith("4567") and "916123" not in number
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await receiver.stop()


async def test_two_records_that_both_think_they_are_first_end_the_call_once(database):
    """The live writer and the ledger can save one call at the same moment, each reading
    that nothing is stored: the second to commit emits call.updated, not call.ended."""
    sessions = session_factory(database)
    key = f"race-{uuid.uuid4().hex[:8]}"
    first, second = sessions(), sessions()
    async with first.begin(), second.begin():
        await emit_many(first, [Event("call.ended", {"outcome": "abandoned"}, key)])
        await emit_many(second, [Event("call.ended", {"outcome": "answered",
                                                      "source": "ledger"}, key)])
        await first.commit()
        await second.commit()
    await first.close()
    await second.close()
    events = await events_of(sessions, key)
    assert [(e.type, e.payload["outcome"], e.payload.get("previous_outcome"))
            for e in events] == [("call.ended", "abandoned", None),
                                 ("call.updated", "answered", "abandoned")]


async def contact_events(sessions) -> list[OutboxEvent]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.type == "contact.changed").order_by(OutboxEvent.id)))


async def staged(sessions) -> list[OutboxStaged]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxStaged).order_by(OutboxStaged.id)))


async def test_an_import_emits_one_contact_changed_per_contact_it_writes(database, tmp_path):
    sessions = session_factory(database)
    async with sessions() as session, session.begin():
        anna = Contact(name="Anna Ivanova", email="anna@example.com",
                       numbers=[ContactNumber(number="+79991112233", label="mobile")])
        session.add(anna)
    csv = tmp_path / "contacts.csv"
    csv.write_text("name,phone,email,notes\n"
                   "Anna Ivanova,+79991112244,anna@example.com,met at the fair\n"
                   "Boris Petrov,+79995556677,,\n"
                   "Boris P.,+79995556677;+79995556688,boris@example.com,\n")
    parsed = await asyncio.to_thread(parse_file, csv, csv.name, None, "RU", tmp_path / "spool")
    assert parsed.errors == []

    with pytest.raises(RuntimeError):  # an import rolled back: no event either
        async with sessions() as session, session.begin():
            await apply(session, spooled(parsed.spool), on_duplicate="merge", report=Report())
            raise RuntimeError("the import fails after its rows were written")
    assert await contact_events(sessions) == [] and await staged(sessions) == []

    report = Report()
    async with sessions() as session, session.begin():
        await apply(session, spooled(parsed.spool), on_duplicate="merge", report=report)
    assert (report.created, report.merged) == (1, 2)
    # committed with the import, staged: in the outbox once released
    assert await contact_events(sessions) == [] and len(await staged(sessions)) == 2
    assert await release(sessions) == 2
    assert await staged(sessions) == []
    events = await contact_events(sessions)
    assert len(events) == 2 and len({e.event_id for e in events}) == 2
    by_id = {e.payload["contact_id"]: e for e in events}
    assert len(by_id) == 2 and anna.id in by_id
    merged = by_id.pop(anna.id)
    assert merged.payload["change"] == "updated"
    assert merged.ordering_key == f"contact-{anna.id}"
    assert {n["number"]: n["label"] for n in merged.payload["numbers"]} == {
        "+79991112233": "mobile", "+79991112244": None}
    assert merged.payload["notes"] == "met at the fair"
    [created] = by_id.values()
    assert created.payload["change"] == "created"
    assert created.payload["name"] == "Boris Petrov"
    assert created.payload["email"] == "boris@example.com"
    assert [n["number"] for n in created.payload["numbers"]] == ["+79995556677", "+79995556688"]
    async with sessions() as session:  # the payload is the single-contact path's, key by key
        stored = await session.get(Contact, created.payload["contact_id"])
        assert created.payload == contact_changed_event(stored, "created").payload


async def test_a_recording_linked_by_the_orphan_sweep_is_ready_once(database, tmp_path):
    sessions = session_factory(database)
    now = datetime.now(UTC)
    linkedid = f"sweep-{uuid.uuid4().hex[:8]}"
    directory = tmp_path / "recordings"
    path = recording_path(directory, linkedid, now - timedelta(hours=1), "wav")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    stamp = (now - timedelta(hours=1)).timestamp()
    os.utime(path, (stamp, stamp))
    async with sessions() as session:
        session.add(Call(linkedid=linkedid, direction="inbound", started_at=now, ended_at=now,
                         answered_at=now, outcome="answered", source="ledger", evidence=3,
                         end_inferred=False))
        await session.commit()
        for _ in range(2):  # the second sweep finds the file linked: nothing more
            report = await sweep_orphans(session, directory,
                                         older_than=now - timedelta(minutes=10), days=2,
                                         final_source="ledger", keep_unanswered=False)
    assert report.linked == []
    async with sessions() as session:
        recording = await session.scalar(select(Recording).where(Recording.path == str(path)))
    [event] = await events_of(sessions, linkedid)
    assert event.type == "recording.ready"
    assert event.payload["recording_id"] == recording.id
    assert event.payload["linkedid"] == linkedid and event.payload["format"] == "wav"


def import_rows(count: int, tag: str) -> list[Row]:
    """`count` new contacts as the importer's parser hands them over, numbers unique to tag."""
    base = uuid.uuid5(uuid.NAMESPACE_OID, tag).int % 10**3
    return [Row(line=i + 2, name=f"Client {tag} {i}", phones=[f"+7916{base:03d}{i:04d}"],
                email=None, notes=None, vip=False, language=None, fields={})
            for i in range(count)]


async def batched(rows: list[Row], size: int = 200):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def import_committed(sessions, rows: list[Row]) -> Report:
    """An import committed and not released: what a kill -9 right after its commit leaves."""
    report = Report()
    async with sessions() as session, session.begin():
        await apply(session, batched(rows), on_duplicate="merge", report=report)
    return report


async def test_an_imports_events_reach_the_outbox_in_order_once_after_release(database):
    sessions = session_factory(database)
    report = await import_committed(sessions, import_rows(1000, "order"))
    assert report.created == 1000
    stage = [s.event_id for s in await staged(sessions)]
    assert len(stage) == 1000 and await contact_events(sessions) == []
    assert await release(sessions, chunk=128) == 1000  # 8 chunks, the last one short
    events = await contact_events(sessions)
    assert [e.event_id for e in events] == stage  # the staged order, each once
    assert [e.payload["name"] for e in events] == [f"Client order {i}" for i in range(1000)]
    assert await staged(sessions) == [] and await release(sessions) == 0


async def test_two_releasers_at_once_move_each_staged_event_once(database):
    sessions = session_factory(database)
    await import_committed(sessions, import_rows(1000, "twice"))
    stage = [s.event_id for s in await staged(sessions)]
    counts = await asyncio.gather(*(release(sessions, chunk=50) for _ in range(2)))
    assert sum(counts) == 1000
    assert [e.event_id for e in await contact_events(sessions)] == stage


async def test_staged_events_a_crash_left_are_released_and_delivered_by_the_deliverer(
        database):
    sessions = session_factory(database)
    receiver = Receiver("a-secret-for-the-crash-test")
    await receiver.start()
    await _subscribe(sessions, receiver, ["contact.changed"])
    await import_committed(sessions, import_rows(700, "crash"))
    stage = [s.event_id for s in await staged(sessions)]
    task = asyncio.create_task(Deliverer(sessions, _settings()).run())
    try:
        arrived = await receiver.wait_for(lambda a: len(a) >= 700, 60)
        assert sorted(a.event_id for a in arrived) == sorted(stage)
        assert [e.event_id for e in await contact_events(sessions)] == stage
        assert await staged(sessions) == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await receiver.stop()


async def test_a_contact_updated_before_its_import_is_released_keeps_created_first(database):
    sessions = session_factory(database)
    await import_committed(sessions, import_rows(400, "key"))
    async with sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.name == "Client key 250")
                                       .options(selectinload(Contact.numbers)))
        contact.notes = "called back"
        await contact_changed(session, contact, "updated")  # what PATCH /contacts/{id} does
        await session.commit()
    key = f"contact-{contact.id}"
    mine = await events_of(sessions, key)
    assert [e.payload["change"] for e in mine] == ["created", "updated"]
    assert mine[1].payload["notes"] == "called back"
    others = await staged(sessions)  # the rest of the import waits for its release
    assert len(others) == 399 and key not in {s.ordering_key for s in others}
    assert await release(sessions) == 399
    assert len(await contact_events(sessions)) == 400 + 1
    assert [e.payload["change"] for e in await events_of(sessions, key)] == [
        "created", "updated"]


async def test_an_import_never_holds_the_ordering_lock_other_emitters_need(database):
    """PostgreSQL (SQLite serialises writers anyway): while a large import is open, in the
    middle of its batches and inside its commit, a call's record commits its event."""
    if database.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    sessions = session_factory(database)
    halfway, resume = asyncio.Event(), asyncio.Event()
    committing, proceed = asyncio.Event(), asyncio.Event()
    rows = import_rows(4000, "lock")

    async def batches():
        async for count, batch in aenumerate(batched(rows)):
            if count == 10:
                halfway.set()
                await resume.wait()
            yield batch

    async def hold() -> None:
        committing.set()
        await proceed.wait()

    async def importing() -> Report:
        report = Report()
        async with sessions() as session:
            pids["import"] = await session.scalar(text("SELECT pg_backend_pid()"))
            await apply(session, batches(), on_duplicate="merge", report=report)
            # after the outbox's own before_commit listener (registered on the class first)
            event.listen(session.sync_session, "before_commit", lambda _s: await_only(hold()))
            await session.commit()
        return report

    async def a_call_ends(name: str) -> int:
        async with asyncio.timeout(10), sessions() as session, session.begin():
            [event_id] = await emit_many(session, [Event("call.ended", {"outcome": "answered"},
                                                         f"lock-{name}")])
        return event_id

    async def advisory_locks_of_the_import() -> int:
        async with sessions() as session:
            return await session.scalar(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"),
                {"pid": pids["import"]})

    pids: dict[str, int] = {}
    task = asyncio.create_task(importing())
    try:
        await halfway.wait()  # 2,000 contacts staged, the import's transaction open
        first = await a_call_ends("staging")
        resume.set()
        await committing.wait()  # all 4,000 staged, inside the import's commit
        assert await advisory_locks_of_the_import() == 0
        second = await a_call_ends("committing")
        assert not task.done()
        proceed.set()
        report = await task
    finally:
        resume.set()
        proceed.set()
        await asyncio.gather(task, return_exceptions=True)
    assert report.created == 4000
    assert await release(sessions) == 4000
    async with sessions() as session:
        order = list(await session.scalars(select(OutboxEvent.event_id)
                                           .order_by(OutboxEvent.id)))
    assert order[:2] == [first, second] and len(order) == 4002  # the calls did not wait


async def test_the_cli_import_releases_its_events_after_its_commit(database, tmp_path):
    sessions = session_factory(database)
    csv = tmp_path / "clients.csv"
    csv.write_text("name,phone\nIrina,+79991234501\nOleg,+79991234502\n")
    env = {**os.environ, "CALLCENTER_DATABASE_URL":
           database.url.render_as_string(hide_password=False)}
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "contacts", "import", str(csv), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    assert [(e.payload["name"], e.payload["change"]) for e in await contact_events(sessions)] \
        == [("Irina", "created"), ("Oleg", "created")]
    assert await staged(sessions) == []
