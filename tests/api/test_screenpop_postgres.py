"""The screen pop on PostgreSQL is one statement on the driver's own pool (PopReader), not the
ORM: it must give the very pop the ORM gives, keep agents to the cards of their own callers,
and audit every card an agent reads."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from sqlalchemy import select, text

from callcenter.api.app import create_app
from callcenter.api.auth import Principal
from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.calls.pops import Subscriber
from callcenter.contacts.models import CardField, Contact, ContactNumber
from callcenter.contacts.screenpop import (
    AGENT_POP_SQL,
    POP_SERVER_SETTINGS,
    POP_SQL,
    PopData,
    Reader,
    load_pop,
)
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.rig import free_port

_databases = itertools.count()
CUSTOMER = "+79161234567"


@dataclass
class PgApi:
    service: Service
    client: httpx.AsyncClient
    tokens: dict[str, str]
    contact_id: int

    async def pop(self, who: str, number: str = "8 916 123-45-67") -> httpx.Response:
        return await self.client.get("/screenpop", params={"number": number},
                                     headers={"Authorization": f"Bearer {self.tokens[who]}"})

    async def card_reads(self) -> list[tuple[str, str | None, str | None, str | None]]:
        async with self.service.sessions() as session:
            return [(e.username, e.object_id, e.details, e.client) for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "contact.read")
                .order_by(AuditEntry.id))]


async def _populate(service: Service) -> int:
    now = datetime.now(UTC)
    async with service.sessions() as session:
        contact = Contact(name="Иван Петров", email="ivan@example.com", notes="prefers mornings",
                          vip=True, language="ru",
                          fields={"passport_no": "4509 123456", "company": "Roga i Kopyta",
                                  "адрес": "Москва, Тверская 1", "contract": "C-17"},
                          numbers=[ContactNumber(number=CUSTOMER, label="mobile"),
                                   ContactNumber(number="+74951234567", label="work")])
        session.add(contact)
        session.add_all([CardField(name="company", kind="free_text", agent_visible=True),
                         CardField(name="passport_no", kind="identity_document",
                                   agent_visible=True),
                         CardField(name="адрес", kind="address"),
                         CardField(name="notes", kind="free_text", agent_visible=True)])
        # seven calls with the customer, as caller and as called, over two days; Anna's is
        # the oldest (more than a day ago), so only the recent window decides for her
        for k, (agent, as_caller, hours) in enumerate(
                [("Anna", True, 30), ("Boris", True, 5), ("Boris", False, 4), (None, True, 3),
                 ("Boris", False, 2), ("Boris", True, 1), ("Boris", True, 0.5)]):
            when = now - timedelta(hours=hours)
            session.add(Call(linkedid=f"pg-{k}", direction="inbound" if as_caller else "outbound",
                             caller=CUSTOMER if as_caller else "+74950000000",
                             called="+74950000000" if as_caller else CUSTOMER,
                             started_at=when, ended_at=when + timedelta(minutes=2),
                             queue="support" if agent else None, agent=agent,
                             wait_seconds=3.5, talk_seconds=60 if agent else None,
                             outcome="answered" if agent else "abandoned", end_inferred=False))
        for k, linkedid in enumerate(("pg-5", "pg-5", "pg-6", "pg-0")):
            session.add(Recording(linkedid=linkedid, path=f"/nowhere/{k}.wav",
                                  format="wav", created_at=now))
        for number, status, minutes in ((CUSTOMER, "open", 10), (CUSTOMER, "done", 9),
                                        (CUSTOMER, "open", 8), ("+74959999999", "open", 7)):
            session.add(Callback(number=number, queue="support", source="abandoned",
                                 status=status, requested_at=now - timedelta(minutes=minutes)))
        await session.commit()
        return contact.id


@pytest.fixture
async def pg_api(postgres, tmp_path) -> AsyncIterator[PgApi]:
    url = await asyncio.to_thread(postgres.create_database, f"pop{next(_databases)}")
    await asyncio.to_thread(upgrade, url)
    service = Service(Settings(database_url=url, recordings_dir=tmp_path / "recordings",
                               spool_dir=tmp_path / "spool", ami_port=free_port(), agi_port=0))
    assert service.pop_reader is not None  # PostgreSQL: the one-statement path
    tokens = {}
    async with service.sessions() as session:
        for username, role, agent, interface in [
                ("sue", "supervisor", None, None),
                ("anna", "agent", "Anna", "Local/2001@cc-test-agent/n"),
                ("boris", "agent", "Boris", "Local/2002@cc-test-agent/n"),
                ("carl", "agent", "Carl", "Local/2003@cc-test-agent/n")]:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface)
            tokens[username] = await create_token(session, user)
        await session.commit()
    contact_id = await _populate(service)
    transport = httpx.ASGITransport(app=create_app(service=service))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield PgApi(service, client, tokens, contact_id)
    finally:
        await service.pop_reader.close()
        await service.engine.dispose()
        await service.telephony_engine.dispose()


@pytest.mark.parametrize("role,agent", [("supervisor", None), ("agent", "Boris"),
                                        ("agent", "Anna")])
async def test_the_one_statement_pop_is_the_orm_pop(pg_api, role, agent):
    service = pg_api.service
    anyone = Reader(username="x")
    for number in ("8 916 123-45-67", "+7 495 123-45-67", "+7 495 999-99-99", "12"):
        fast = await service.pop_reader.read(number, anyone)
        async with service.sessions() as session:
            orm = await load_pop(session, number, "RU")
        assert fast.for_viewer(role, agent) == orm.for_viewer(role, agent)
    # an agent's statement (with the check) gives the same pop
    boris = Reader(username="boris", agent_name="Boris", is_agent=True)
    checked = await service.pop_reader.read("89161234567", boris)
    assert checked.for_viewer(role, agent) == (await _orm(service)).for_viewer(role, agent)
    pop = checked.for_viewer(role, agent)
    # what the ORM and the statement agree on is also what it should be
    assert [c["linkedid"] for c in pop["last_calls"]] == ["pg-6", "pg-5", "pg-4", "pg-3",
                                                         "pg-2"]
    assert len(pop["open_callbacks"]) == 2
    recordings = {c["linkedid"]: len(c["recordings"]) for c in pop["last_calls"]}
    if role == "supervisor" or agent == "Boris":
        assert recordings["pg-5"] == 2 and recordings["pg-6"] == 1
    else:  # Anna may play only her own calls' recordings
        assert set(recordings.values()) == {0}
    card = pop["contact"]
    if role == "agent":
        assert card["fields"] == {"company": "Roga i Kopyta"}
        assert card["numbers"] == [{"number": CUSTOMER, "label": "mobile"},
                                   {"number": "********4567", "label": "work"}]
        assert "email" not in card
    else:
        assert card["fields"]["passport_no"] == "4509 123456" and card["email"]


async def _orm(service: Service) -> PopData:
    async with service.sessions() as session:
        return await load_pop(session, "89161234567", "RU")


async def test_agents_read_only_their_callers_cards_and_each_read_is_audited(pg_api):
    # Boris talked to the customer within the day: allowed, audited
    assert (await pg_api.pop("boris")).status_code == 200
    # Anna only 30 hours ago (the window is 24 h), Carl never: refused, nothing audited
    for agent in ("anna", "carl"):
        assert (await pg_api.pop(agent)).status_code == 404
    # an unknown number is no card to read: refused for agents too
    assert (await pg_api.pop("boris", "+7 903 000-00-00")).status_code == 404
    # while the customer rings Carl's phone, he may (and it is audited)
    pg_api.service.pops.on_event({"Event": "AgentCalled", "Interface": "Local/2003@cc-test-agent/n",
                                  "Linkedid": "live-1", "CallerIDNum": "79161234567"})
    response = await pg_api.pop("carl")
    assert response.status_code == 200 and response.json()["contact"]["id"] == pg_api.contact_id
    # supervisors read without an audit entry
    assert (await pg_api.pop("sue")).status_code == 200
    assert await pg_api.card_reads() == [
        ("boris", str(pg_api.contact_id), "via=screenpop", "127.0.0.1"),
        ("carl", str(pg_api.contact_id), "via=screenpop", "127.0.0.1")]


async def test_a_pop_survives_the_database_closing_its_connections(pg_api):
    """PostgreSQL restarted (or idle connections cut): the next pop runs on a new connection,
    not a 500."""
    assert (await pg_api.pop("sue")).status_code == 200
    async with pg_api.service.sessions() as session:
        await session.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    assert (await pg_api.pop("sue")).status_code == 200


async def test_an_unreachable_database_is_a_503(tmp_path):
    service = Service(Settings(database_url=f"postgresql+asyncpg://x@127.0.0.1:{free_port()}/x",
                               recordings_dir=tmp_path / "r", spool_dir=tmp_path / "s",
                               ami_port=free_port(), agi_port=0))
    token = "cc_test"
    service.principals.put(token, Principal(1, "sue", "supervisor", None, None, None))
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/screenpop", params={"number": "89161234567"},
                                    headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    await service.engine.dispose()
    await service.telephony_engine.dispose()


async def test_a_ring_pops_the_card_read_by_the_one_statement(pg_api):
    """The WebSocket pop on ring reads through the same statement on PostgreSQL, shaped for
    the agent rung and audited for them."""
    hub = pg_api.service.pops
    assert hub.reader is pg_api.service.pop_reader
    received: asyncio.Queue[dict] = asyncio.Queue()
    carl = Subscriber("Local/2003@cc-test-agent/n", "Carl", "agent", received.put,
                      username="carl")
    serving = asyncio.create_task(hub.serve(carl))
    while not hub.connected(carl.interface):
        await asyncio.sleep(0)  # serve() subscribes in its first step
    hub.on_event({"Event": "AgentCalled", "Interface": carl.interface, "Linkedid": "ring-1",
                  "Queue": "support", "CallerIDNum": "89161234567"})
    ring = await asyncio.wait_for(received.get(), 10)
    carl.closed.set()
    await serving
    card = ring["screenpop"]["contact"]
    assert ring["type"] == "ring" and card["id"] == pg_api.contact_id
    assert card["fields"] == {"company": "Roga i Kopyta"} and "email" not in card
    async with asyncio.timeout(10):
        while not await pg_api.card_reads():
            await asyncio.sleep(0.05)  # written beside the pop, after it
    assert await pg_api.card_reads() == [("carl", str(pg_api.contact_id), "via=ring", None)]


async def test_the_pop_statements_plan_reads_calls_by_number_whatever_the_statistics(pg_api):
    """The pop connections plan their statements once, for any number (a generic plan). A
    center's calls all carry its own numbers (the DID in `called` of inbound calls, the CLI
    in `caller` of outbound ones), so the statistics say `called = $1` matches everything;
    a plan by `started_at` or by agent then read a whole table per pop (10 ms and more at a
    million calls). Whatever the statistics, every read of calls must go by number (checked
    with the statistics of an inbound center, the case that broke it)."""
    dsn = pg_api.service.settings.database_url.replace("postgresql+asyncpg://",
                                                       "postgresql://", 1)
    connection = await asyncpg.connect(dsn, server_settings=POP_SERVER_SETTINGS)
    try:
        now = datetime.now(UTC)
        await connection.copy_records_to_table(
            "calls", columns=["linkedid", "direction", "caller", "called", "started_at",
                              "agent", "outcome", "end_inferred", "vip", "recording_opt_out",
                              "source"],
            # an inbound center: every call to one of its two DIDs
            records=[(f"stat-{i}", "inbound", f"+7916{i % 20_000:07d}", f"+749500000{i % 2:02d}",
                      now - timedelta(minutes=i), f"Agent{i % 5}", "answered", False, False,
                      False, "ami") for i in range(30_000)])
        await connection.execute("ANALYZE")
        for sql, args in ((POP_SQL, "'+79160000007'"),
                          (AGENT_POP_SQL, "'+79160000007', now() - interval '1 day', 'Agent2'")):
            await connection.execute("DEALLOCATE ALL")
            types = "text" if sql is POP_SQL else "text, timestamptz, text"
            await connection.execute(f"PREPARE pop({types}) AS {sql}")
            plan = "\n".join(r[0] for r in await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE pop({args})"))
            assert "ix_calls_started_at" not in plan and "ix_calls_agent" not in plan, plan
            assert "Seq Scan on calls" not in plan, plan
            assert "ix_calls_caller_started_at" in plan and "ix_calls_called_started_at" in plan
    finally:
        await connection.close()
