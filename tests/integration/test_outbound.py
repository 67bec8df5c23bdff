"""A progressive project through the real Asterisk: 3 Local-channel agents, 30 numbers whose
Local customers answer, are busy or ring out; retries on the dialler's clock, moved by the
test; DNC and out-of-hours numbers never dialled; every attempt one call record."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from callcenter.calls.models import Call
from callcenter.contacts.importer import Row
from callcenter.dispositions.models import CallWrapup, Disposition
from callcenter.dispositions.service import save_wrapup
from callcenter.projects import service as projects
from callcenter.projects.models import Project, ProjectAgent, ProjectAttempt, ProjectEntry
from callcenter.users.models import User
from callcenter.users.service import create_user
from tests.integration.helpers import login_agent, logout_everyone

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # 15:00 in Moscow, 21:00 in Tokyo (closed)
AGENTS = {"Olga": "3001", "Pavel": "3002", "Rita": "3003"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _rows(rows: list[Row]) -> AsyncIterable[list[Row]]:
    yield rows


async def _settled(service, project_id: int, clock: Clock, timeout: float = 90) -> None:
    """Until nothing is being called and nothing due is left (the dialler is idle)."""
    async with asyncio.timeout(timeout):
        while True:
            service.dialler.wake()
            await asyncio.sleep(0.3)
            async with service.sessions() as session:
                busy = await session.scalar(select(ProjectEntry.id).where(
                    ProjectEntry.project_id == project_id,
                    (ProjectEntry.state == "calling") | (
                        (ProjectEntry.state == "queued") & (ProjectEntry.next_at <= clock.now)
                        & ProjectEntry.phone.like("+7%"))).limit(1))
            if busy is None and not service.dialler.placed:
                await service.dialler.idle()
                return


async def _give_dispositions(service, stop: asyncio.Event, clock: Clock) -> None:
    """The agents' side: each answered call gets its result as soon as it ends."""
    while not stop.is_set():
        async with service.sessions() as session:
            waiting = list(await session.scalars(select(ProjectAttempt.linkedid).where(
                ProjectAttempt.result == "answered", ProjectAttempt.disposition.is_(None))))
            for linkedid in waiting:
                await save_wrapup(session, linkedid=linkedid, agent=None, code="sale",
                                  note=None, callback=None, now=clock.now)
            await session.commit()
        await asyncio.sleep(0.2)


@pytest.fixture
async def dialler_agents(service):
    await logout_everyone(service, "support", "sales")
    async with service.sessions() as session:
        await session.execute(delete(User).where(User.agent_name.in_(AGENTS)))
        for name, extension in AGENTS.items():
            await create_user(session, username=name.lower() + "-dialler", role="agent",
                              agent_name=name, interface=f"Local/{extension}@cc-test-agent/n",
                              password="correct horse")
        await session.commit()
    yield
    async with service.sessions() as session:
        await session.execute(delete(ProjectAgent).where(ProjectAgent.agent.in_(AGENTS)))
        await session.execute(Project.__table__.update().values(status="stopped"))
        await session.commit()
    await logout_everyone(service, "support", "sales")


async def test_progressive_project_end_to_end(service, dialler_agents) -> None:
    clock = Clock(T0)
    service.dialler.clock = clock
    service.dialler.channel = "Local/{number}@cc-test-dialled"
    block = random.randint(1000, 9999)
    # "busy the first time" is remembered per number and per run
    await service.ami.client.action({"Action": "Setvar", "Variable": "CC_TEST_RUN",
                                     "Value": uuid.uuid4().hex[:12]})
    numbers = [f"+7495{block}{i:03d}" for i in range(24)]
    tokyo = [f"+81312{block}{i:02d}" for i in range(3)]  # Asia/Tokyo: 21:00, out of hours
    numbers += [f"+7495{block}{i:03d}" for i in range(30, 33)]  # 3 more to reach 30, DNC below
    dnc = [n for n in numbers if n.endswith("8")]
    async with service.sessions() as session:
        project = Project(name=f"dialler-{block}", mode="progressive", status="running",
                          caller_id="74950000000", retry_busy=10, retry_no_answer=60,
                          retry_congestion=10, max_attempts=3, ring_seconds=5,
                          wrapup_seconds=60)
        session.add(project)
        await session.flush()
        await projects.set_agents(session, project.id, AGENTS)
        session.add(Disposition(scope="project", scope_key=str(project.id), code="sale",
                                label="Sale", is_success=True, closes_number=True))
        for number in dnc:
            await projects.add_dnc(session, number, project.id, "asked")
        report = projects.ListReport()
        rows = [Row(line=i, name=f"Customer {i}", phones=[n], email=None, notes=None,
                    vip=False, language=None, fields={})
                for i, n in enumerate(numbers + tokyo)]
        await projects.import_rows(session, project, _rows(rows), on_duplicate="skip",
                                   report=report, now=clock.now)
        await session.commit()
        project_id = project.id
    assert report.added == 30 and len(report.dnc) == len(dnc)

    seen: list[dict[str, str]] = []  # for the failure message: what Asterisk said
    unsubscribe = service.ami.subscribe(seen.append, frozenset({"OriginateResponse", "Hangup"}))
    stop = asyncio.Event()
    results = asyncio.create_task(_give_dispositions(service, stop, clock))
    try:
        for name, extension in AGENTS.items():
            await login_agent(service, "sales", name, extension)
        await _settled(service, project_id, clock)
        clock.now = T0 + timedelta(minutes=10)  # busy numbers are due again
        await _settled(service, project_id, clock)
        clock.now = T0 + timedelta(minutes=20)
        await _settled(service, project_id, clock)
        clock.now = T0 + timedelta(minutes=61)  # and the unanswered ones
        await _settled(service, project_id, clock)
    finally:
        stop.set()
        await results
        unsubscribe()
        await logout_everyone(service, "sales")

    async with service.sessions() as session:
        entries = {e.phone: e for e in await session.scalars(
            select(ProjectEntry).where(ProjectEntry.project_id == project_id))}
        attempts = list(await session.scalars(select(ProjectAttempt).where(
            ProjectAttempt.project_id == project_id).order_by(ProjectAttempt.id)))
    by_number: dict[str, list[ProjectAttempt]] = {}
    for attempt in attempts:
        phone = next(p for p, e in entries.items() if e.id == attempt.entry_id)
        by_number.setdefault(phone, []).append(attempt)

    def said(number: str) -> list[object]:
        ids = {a.linkedid for a in by_number.get(number, [])}
        return [h for h in service.dialler.history if h[0] in ids] + [
            {k: e.get(k) for k in ("Event", "Reason", "Uniqueid", "Cause")}
            for e in seen if number[1:] in e.get("Channel", "")]

    for number in numbers:
        entry, tried = entries[number], by_number.get(number, [])
        kind = number[-1]
        if number in dnc:
            assert tried == [] and entry.state == "dnc", number
        elif kind == "5":  # busy, then answered 10 minutes later
            assert [a.result for a in tried] == ["busy", "answered"], (number, said(number))
            assert tried[1].started_at - tried[0].started_at == timedelta(minutes=10)
            assert entry.state == "done" and entry.success
        elif kind == "6":  # busy every time: three attempts 10 minutes apart, then done
            assert [a.result for a in tried] == ["busy"] * 3, (number, said(number))
            assert [a.started_at for a in tried] == [T0, T0 + timedelta(minutes=10),
                                                     T0 + timedelta(minutes=20)]
            assert entry.state == "done"
        elif kind == "7":  # no answer: again after an hour, then waiting for the third
            assert [a.result for a in tried] == ["no_answer"] * 2, (number, said(number))
            assert tried[1].started_at == T0 + timedelta(minutes=61)
            assert (entry.state, entry.next_at) == ("queued", T0 + timedelta(minutes=121))
        elif kind == "9":
            assert [a.result for a in tried][:1] == ["congestion"], number
        else:
            assert [a.result for a in tried] == ["answered"], (number, said(number))
            assert tried[0].disposition == "sale" and entry.state == "done" and entry.success
    for number in tokyo:
        assert by_number.get(number) is None and entries[number].state == "queued"
        assert entries[number].next_at == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # 09:00 JST
    # no customer ever answered without an agent, and each agent had one call at a time
    assert not [a for a in attempts if a.result == "abandoned"]
    for agent in AGENTS:
        spans = sorted((a.started_at, a.ended_at) for a in attempts if a.agent == agent)
        assert spans, agent
    # every attempt is one call record of its own, joined by the linkedid
    async with asyncio.timeout(60):
        while True:
            async with service.sessions() as session:
                calls = {c.linkedid: c for c in await session.scalars(select(Call).where(
                    Call.linkedid.in_([a.linkedid for a in attempts]),
                    Call.source == "ledger"))}  # final: from Asterisk's CEL
            if len(calls) == len(attempts):
                break
            await asyncio.sleep(0.5)
    for attempt in attempts:
        call = calls[attempt.linkedid]
        assert (call.answered_at is not None) == (attempt.result == "answered"), (
            attempt.result, call.outcome)
        if attempt.result == "answered":  # the customer talked to the agent reserved
            assert call.agent == attempt.agent and call.talk_seconds, (call.agent, attempt.agent)
        phone = next(p for p, e in entries.items() if e.id == attempt.entry_id)
        assert call.called == phone
        # busy and unanswered too: the dialler's call, though it never reached its context
        assert call.direction == "outbound", (attempt.result, call.outcome)
    # the call records as the API shows them: each answered one with its disposition
    async with service.sessions() as session:
        wrapups = dict((await session.execute(select(CallWrapup.linkedid,
                                                     CallWrapup.disposition_code))).all())
    for attempt in attempts:
        assert wrapups.get(attempt.linkedid) == (
            "sale" if attempt.result == "answered" else None), attempt.result


async def test_preview_card_skip_call_and_script(service, dialler_agents) -> None:
    """Preview: the agent skips one card with a reason, calls the next (their phone first,
    then the customer's), walks the script on that call and saves the result."""
    import httpx

    from callcenter.api.app import create_app
    from callcenter.users.service import create_token

    clock = Clock(T0)
    service.dialler.clock = clock
    block = random.randint(1000, 9999)
    numbers = [f"+7495{block}{i:03d}" for i in range(2)]
    async with service.sessions() as session:
        olga = await session.scalar(select(User).where(User.agent_name == "Olga"))
        headers = {"Authorization": f"Bearer {await create_token(session, olga)}"}
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        sup = await bearer_header(service)
        script = await http.post("/scripts", headers=sup, json={
            "name": f"preview-{block}", "steps": [
                {"id": "hello", "text": "Добрый день, {name}!", "next": "ask"},
                {"id": "ask", "text": "Интересно?", "choices": [
                    {"value": "yes", "next": "bye"}, {"value": "no", "next": "bye"}]},
                {"id": "bye", "text": "Спасибо!"}]})
        assert script.status_code == 201, script.text
        project = await http.post("/projects", headers=sup, json={
            "name": f"preview-{block}", "mode": "preview", "agents": ["Olga"],
            "script_id": script.json()["id"], "ring_seconds": 10})
        pid = project.json()["id"]
        async with service.sessions() as session:
            session.add(Disposition(scope="project", scope_key=str(pid), code="sale",
                                    label="Sale", is_success=True, closes_number=True))
            entry = await projects.get_project(session, pid)
            await projects.import_rows(session, entry, _rows([
                Row(line=i + 2, name=f"Клиент {i}", phones=[n], email=None, notes=None,
                    vip=False, language=None, fields={}) for i, n in enumerate(numbers)]),
                on_duplicate="skip", report=projects.ListReport(), now=clock.now)
            await session.commit()
        assert (await http.post(f"/projects/{pid}/start", headers=sup)).status_code == 200

        first = (await http.post(f"/projects/{pid}/preview/next", headers=headers)).json()
        assert first["script"]["step"]["text"] == "Добрый день, Клиент 0!"
        skipped = await http.post(f"/projects/{pid}/preview/{first['entry']['id']}/skip",
                                  headers=headers, json={"reason": "знакомый номер"})
        assert skipped.json()["state"] == "skipped"
        card = (await http.post(f"/projects/{pid}/preview/next", headers=headers)).json()
        assert card["entry"]["name"] == "Клиент 1"
        called = await http.post(f"/projects/{pid}/preview/{card['entry']['id']}/call",
                                 headers=headers)
        assert called.status_code == 200, called.text
        linkedid = called.json()["linkedid"]
        walk = await http.post(f"/scripts/calls/{linkedid}", headers=headers, json={})
        assert walk.json()["step"]["id"] == "hello"
        await http.post(f"/scripts/calls/{linkedid}/answers", headers=headers,
                        json={"step": "hello", "answer": "ok"})
        done = await http.post(f"/scripts/calls/{linkedid}/answers", headers=headers,
                               json={"step": "ask", "answer": "yes"})
        assert done.json()["answers"] == [{"step": "hello", "answer": "ok"},
                                          {"step": "ask", "answer": "yes"}]
        async with asyncio.timeout(60):
            while service.dialler.placed:
                await asyncio.sleep(0.2)
        await service.dialler.idle()
        saved = await http.post(f"/projects/attempts/{linkedid}/disposition", headers=headers,
                                json={"code": "sale"})
        assert saved.json()["result"] == "answered", service.dialler.history
        assert saved.json()["entry_state"] == "done"
    async with service.sessions() as session:
        entries = {e.phone: e for e in await session.scalars(
            select(ProjectEntry).where(ProjectEntry.project_id == pid))}
        attempts = list(await session.scalars(select(ProjectAttempt).where(
            ProjectAttempt.project_id == pid)))
    assert entries[numbers[0]].state == "skipped" and entries[numbers[0]].attempts == 0
    assert entries[numbers[0]].skip_reason == "знакомый номер"
    assert [(a.linkedid, a.agent, a.result, a.disposition) for a in attempts] == [
        (linkedid, "Olga", "answered", "sale")]
    async with asyncio.timeout(60):
        while True:
            async with service.sessions() as session:
                call = await session.scalar(select(Call).where(Call.linkedid == linkedid,
                                                               Call.source == "ledger"))
            if call is not None:
                break
            await asyncio.sleep(0.5)
    assert (call.direction, call.called, call.agent) == ("outbound", numbers[1], "Olga")
    assert call.answered_at is not None


async def bearer_header(service) -> dict[str, str]:
    from tests.integration.helpers import bearer

    return await bearer(service, "sup-outbound")
