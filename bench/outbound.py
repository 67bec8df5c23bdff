"""Outbound projects: choosing the next number in a 1 M-row list (PostgreSQL), and the time
from an agent becoming free to their phone ringing through the real Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.common import Result, p50, percentile
from callcenter.ami.client import AMIError
from callcenter.db import create_engine, session_factory
from callcenter.projects import service as projects
from callcenter.projects.models import Project
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_user
from tests.rig import Asterisk

BIG, SMALL, CLAIMS = 1_000_000, 10_000, 500
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # noon in Moscow: every number in hours


async def _list(session, name: str, rows: int) -> Project:
    """A project whose list has `rows` numbers: a third done, the rest due over two hours."""
    project = Project(name=name, mode="progressive", status="running")
    session.add(project)
    await session.flush()
    await session.execute(text("""
        INSERT INTO project_entries (project_id, name, phone, fields, timezones, state, next_at,
                                     attempts, success)
        SELECT :p, 'Customer ' || g, '+7495' || lpad(g::text, 7, '0'), '{}', 'Europe/Moscow',
               CASE WHEN g % 3 = 0 THEN 'done' ELSE 'queued' END,
               CAST(:t AS timestamptz) - interval '1 hour' + (g % 7200) * interval '1 second',
               g % 3, false
        FROM generate_series(1, :n) AS g"""), {"p": project.id, "n": rows, "t": NOW})
    await session.commit()
    await session.execute(text("ANALYZE project_entries"))
    return project


async def _claims(database_url: str) -> dict[str, list[float]]:
    """Seconds per claim: choosing (the query that finds, checks and locks the next due
    number) and choosing plus committing it as "calling"; a bare round trip as the floor."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    out: dict[str, list[float]] = {}
    try:
        async with sessions() as session:
            big = await _list(session, "bench-1m", BIG)
            small = await _list(session, "bench-10k", SMALL)
        for label, project in (("1M", big), ("10k", small)):
            choose, whole = [], []
            async with sessions() as session:
                project = await session.get(Project, project.id)
                for _ in range(CLAIMS):
                    started = time.perf_counter()
                    entry = await projects.claim_next(session, project, NOW)
                    chosen = time.perf_counter()
                    await session.commit()
                    choose.append(chosen - started)
                    whole.append(time.perf_counter() - started)
                    assert entry is not None
            out[label], out[f"{label} committed"] = choose, whole
        floor = []
        async with sessions() as session:
            for _ in range(CLAIMS):
                started = time.perf_counter()
                await session.execute(text("SELECT 1"))
                floor.append(time.perf_counter() - started)
        out["round trip"] = floor
    finally:
        await engine.dispose()
    return out


async def _free_to_ringing(database_url: str, recordings: Path,
                           rounds: int) -> tuple[list[float], list[float]]:
    """An agent unpauses; the dialler originates the next number (a Local customer who
    answers at once) and rings the agent: seconds from the unpause being seen to the agent's
    channel appearing."""
    settings = Settings(database_url=database_url, recordings_dir=recordings,
                        spool_dir=recordings.parent / "spool", dialler_tick_seconds=5.0,
                        dialler_channel="Local/{number}@cc-test-dialled")
    service = Service(settings)
    await service.start()
    interface = "Local/3901@cc-test-agent/n"
    ringing: asyncio.Queue[float] = asyncio.Queue()
    service.ami.subscribe(
        lambda e: ringing.put_nowait(time.perf_counter())
        if e.get("Event") == "Newchannel" and e.get("Channel", "").startswith("Local/3901@")
        and e.get("Channel", "").endswith(";1") else None, frozenset({"Newchannel"}))
    try:
        await asyncio.wait_for(service.ami.client.connected.wait(), 30)
        async with service.sessions() as session:
            await create_user(session, username="bench-dialler", role="agent",
                              agent_name="Bench", interface=interface, password="x" * 12)
            # calling hours around the clock: the bench runs at any hour
            project = Project(name="bench-free", mode="progressive", status="running",
                              wrapup_seconds=0, ring_seconds=10, hours_start=0,
                              hours_end=24 * 60)
            session.add(project)
            await session.flush()
            await projects.set_agents(session, project.id, ["Bench"])
            block = random.randint(1000, 9999)
            for i in range(rounds):
                session.add(projects.ProjectEntry(
                    project_id=project.id, name=f"C{i}", phone=f"+7495{block}{i:02d}0",
                    timezones="UTC", state="queued",
                    next_at=datetime.now(UTC) - timedelta(minutes=1)))
            await session.commit()
        ami = service.ami.client
        await ami.action({"Action": "QueueAdd", "Queue": "sales", "Interface": interface,
                          "MemberName": "Bench", "Paused": "true"})
        delays = []
        for _ in range(rounds):
            await asyncio.sleep(0.5)
            while not ringing.empty():
                ringing.get_nowait()
            await ami.action({"Action": "QueuePause", "Interface": interface,
                              "Paused": "false"})
            freed = time.perf_counter()
            rang = await asyncio.wait_for(ringing.get(), 20)
            delays.append(rang - freed)
            await ami.action({"Action": "QueuePause", "Interface": interface,
                              "Paused": "true"})
            await asyncio.wait_for(_idle(service), 30)
        # baseline: the same call placed by hand (Originate straight away, no dialler):
        # what Asterisk itself takes from Originate to the agent's phone
        direct = []
        for i in range(rounds):
            while not ringing.empty():
                ringing.get_nowait()
            number = f"7495{block}{i:02d}0"
            sent = time.perf_counter()
            await ami.action({
                "Action": "Originate", "Channel": f"Local/{number}@cc-test-dialled",
                "Context": "callcenter-dialler", "Exten": number, "Priority": 1,
                "Variable": [f"CC_DIALLER_AGENT={interface}", "CC_AGENT=Bench"],
                "Async": "true"})
            direct.append(await asyncio.wait_for(ringing.get(), 20) - sent)
            await asyncio.sleep(3)  # the call ends (the customer talks 2 s)
        return delays, direct
    finally:
        # also after a failed round: the next run adds the member again
        with contextlib.suppress(AMIError, TimeoutError):
            await service.ami.client.action({"Action": "QueueRemove", "Queue": "sales",
                                             "Interface": interface})
        await service.stop()


async def _idle(service: Service) -> None:
    while service.dialler.placed:
        await asyncio.sleep(0.05)
    await service.dialler.idle()


def run(database_url: str, tmp: str) -> list[Result]:
    claims = asyncio.run(_claims(database_url))
    big, small = claims["1M"], claims["10k"]
    ms = 1000
    results = [
        Result("Outbound dialler", f"next number in a 1 M-row list, p50 ({CLAIMS} claims)",
               ms * p50(big), "ms", "10 k-row list", ms * p50(small)),
        Result("Outbound dialler", "next number in a 1 M-row list, p99",
               ms * percentile(big, 99), "ms", "10 k-row list", ms * percentile(small, 99),
               "< 5 ms", ms * percentile(big, 99) < 5),
        Result("Outbound dialler", "next number chosen and committed (1 M rows), p99",
               ms * percentile(claims["1M committed"], 99), "ms", "SELECT 1 round trip p99",
               ms * percentile(claims["round trip"], 99)),
    ]
    recordings = Path(tempfile.mkdtemp(prefix="recordings-", dir=tmp))
    recordings.chmod(0o777)
    Asterisk(recordings).up()
    delays, direct = asyncio.run(_free_to_ringing(database_url, recordings, 10))
    results.append(Result("Outbound dialler", "agent free -> their phone rings, p50 (10 rounds)",
                          ms * p50(delays), "ms", "Originate by hand -> rings", ms * p50(direct)))
    results.append(Result("Outbound dialler", "agent free -> their phone rings, worst",
                          ms * max(delays), "ms", "Originate by hand, worst", ms * max(direct)))
    return results
