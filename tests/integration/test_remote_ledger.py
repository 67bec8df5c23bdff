"""A PBX on another host: Asterisk writes CEL (cel_pgsql) and queue_log (res_config_pgsql
realtime) into the service's own PostgreSQL database, with the site files of
asterisk_conf/remote/, and a service reading those tables (ledger_source = "tables") derives
every call exactly once, as Asterisk logged it, and resumes after a restart from its position.

The test Asterisk is the shared one: it gets the remote files for this test only and the
normal configuration back at the end (modules unloaded, `up` again)."""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from callcenter.calls.models import Call, CallLeg, LedgerPosition
from callcenter.db import create_engine
from callcenter.ledger.derive import QueueLogLine
from callcenter.migrate import upgrade
from callcenter.queues.models import QueueEntry
from callcenter.service import Service
from callcenter.settings import Settings
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_final,
)
from tests.rig import ROOT, Asterisk

pytestmark = pytest.mark.integration

REMOTE = ROOT / "asterisk_conf" / "remote"
MODULES = ("res_config_pgsql.so", "cel_pgsql.so")


def remote_conf(directory: Path, host: str, port: int, dbname: str, user: str) -> Path:
    """The test's extra Asterisk config: its usual additions plus the site files of
    asterisk_conf/remote/, pointed at the test database."""
    directory.mkdir(parents=True, exist_ok=True)
    for extra in (ROOT / "tests" / "asterisk").glob("*.conf"):
        shutil.copy(extra, directory)
    values = {"hostname": host, "port": str(port), "dbname": dbname, "user": user}
    for source in REMOTE.glob("*.conf"):
        text = source.read_text()
        for key, value in values.items():
            text = re.sub(rf"^{key} = \S+", f"{key} = {value}", text, flags=re.M)
        (directory / source.name).write_text(text)
    return directory


@pytest.fixture
async def remote_pbx(asterisk: Asterisk, postgres, tmp_path: Path) -> AsyncIterator[str]:
    """The shared Asterisk writing its ledger into a fresh, migrated database; its URL."""
    name = f"remote_{uuid.uuid4().hex[:10]}"
    url = postgres.create_database(name)
    await asyncio.to_thread(upgrade, url)
    normal = asterisk.env["ASTERISK_EXTRA_CONF"]
    asterisk.env["ASTERISK_EXTRA_CONF"] = str(remote_conf(
        tmp_path / "asterisk", "127.0.0.1", postgres.port, name, "callcenter"))
    try:
        await asyncio.to_thread(asterisk.up)  # core reload: extconfig.conf read
        for module in MODULES:
            await asyncio.to_thread(asterisk.rx, f"module load {module}")
        await asyncio.to_thread(asterisk.rx, "logger reload")  # queue_log: realtime now
        assert "CEL PGSQL backend" in await asyncio.to_thread(asterisk.rx, "cel show status")
        yield url
    finally:
        for module in reversed(MODULES):
            await asyncio.to_thread(asterisk.rx, f"module unload {module}")
        asterisk.env["ASTERISK_EXTRA_CONF"] = normal
        await asyncio.to_thread(asterisk.up)
        await asyncio.to_thread(asterisk.rx, "logger reload")


def remote_service(url: str, recordings: Path) -> Service:
    return Service(Settings(database_url=url, agi_port=0, recordings_dir=recordings,
                            ledger_source="tables"))


async def started(service: Service) -> Service:
    await service.start()
    async with asyncio.timeout(30):
        await service.ami.client.connected.wait()
    return service


@dataclass
class Logged:
    """What Asterisk's queue_log rows in the database say of one call."""

    queue: str | None = None
    agent: str | None = None
    outcome: str | None = None
    wait: float | None = None
    talk: float | None = None


ENDINGS = {"COMPLETEAGENT": "answered", "COMPLETECALLER": "answered", "ABANDON": "abandoned",
           "EXITWITHTIMEOUT": "timeout"}


async def logged(service: Service, linkedid: str) -> Logged:
    """The queue_log rows of a call (its queue stay's callid is the caller leg's Uniqueid)."""
    query = sa.text("SELECT event, queuename, agent, data1, data2, data3 "
                    "FROM asterisk_queue_log WHERE callid = :callid ORDER BY id")
    async with service.sessions() as session:
        rows = (await session.execute(query, {"callid": f"{linkedid}-2"})).all()
    found = Logged()
    for event, queue, agent, data1, data2, data3 in rows:
        if event == "ENTERQUEUE":
            found.queue = queue
        elif event == "CONNECT":
            found.agent = agent
        elif event in ("COMPLETEAGENT", "COMPLETECALLER"):
            found.outcome, found.wait, found.talk = ENDINGS[event], float(data1), float(data2)
        elif event in ("ABANDON", "EXITWITHTIMEOUT"):
            found.outcome, found.wait = ENDINGS[event], float(data3)
    return found


async def counts(service: Service, linkedids: list[str]) -> tuple[int, int, int]:
    async with service.sessions() as session:
        calls = await session.scalar(select(func.count()).select_from(Call).where(
            Call.linkedid.in_(linkedids), Call.source == "ledger"))
        legs = await session.scalar(select(func.count()).select_from(CallLeg).where(
            CallLeg.linkedid.in_(linkedids)))
        entries = await session.scalar(select(func.count()).select_from(QueueEntry).where(
            QueueEntry.linkedid.in_(linkedids)))
    return calls, legs, entries


async def cel_position(service: Service) -> int:
    async with service.sessions() as session:
        return await session.scalar(select(LedgerPosition.offset).where(
            LedgerPosition.source == "cel"))


async def test_remote_pbx_ledger_through_postgresql(service, remote_pbx, tmp_path):
    remote = await started(remote_service(remote_pbx, tmp_path / "recordings"))
    running = {remote}
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Remy", "2001")
    try:
        calls = {
            "answered": await place_inbound_call(service, caller="+79161239001", talk=3),
            "abandoned": await place_inbound_call(service, caller="+79161239002", patience=3,
                                                  variables={"CC_QUEUE": "sales"}),
            "timeout": await place_inbound_call(service, caller="+79161239003", patience=15,
                                                variables={"CC_QUEUE": "sales",
                                                           "CC_QUEUE_TIMEOUT": "2"}),
        }
        finals = {kind: await wait_for_final(remote, linkedid)
                  for kind, linkedid in calls.items()}
        # the same calls as the service reading the files has them
        files = {kind: await wait_for_final(service, linkedid)
                 for kind, linkedid in calls.items()}
        await asyncio.sleep(1)  # a second write of the same call would come now
        before = await counts(remote, list(calls.values()))
        position = await cel_position(remote)
        await remote.stop()
        running.clear()

        # the service is down: a call happens, only the tables see it
        calls["while down"] = await place_inbound_call(service, caller="+79161239004", talk=2)
        await wait_for_final(service, calls["while down"])
        remote = await started(remote_service(remote_pbx, tmp_path / "recordings"))
        running.add(remote)
        finals["while down"] = await wait_for_final(remote, calls["while down"])
        files["while down"] = await wait_for_final(service, calls["while down"])
        await asyncio.sleep(1)
        after = await counts(remote, list(calls.values()))
        assert await cel_position(remote) > position
        assert remote.ledger is not None and remote.ledger.records_written == 1
    finally:
        await logout_everyone(service, "support", "sales")
        for each in running:
            await each.stop()

    expected = {"answered": ("answered", "support", "Remy"),
                "abandoned": ("abandoned", "sales", None),
                "timeout": ("timeout", "sales", None),
                "while down": ("answered", "support", "Remy")}
    for kind, call in finals.items():
        truth = await logged(remote, calls[kind])
        assert call.source == "ledger", kind
        assert (call.outcome, call.queue, call.agent) == expected[kind], kind
        assert (truth.outcome, truth.queue, truth.agent) == expected[kind], kind
        assert call.wait_seconds == pytest.approx(truth.wait, abs=1), kind
        if truth.talk is not None:
            assert call.talk_seconds == pytest.approx(truth.talk, abs=1), kind
        for field in ("outcome", "queue", "agent", "caller", "hangup_by", "wait_seconds",
                      "talk_seconds"):
            assert getattr(call, field) == getattr(files[kind], field), (kind, field)
        assert abs((call.ended_at - files[kind].ended_at).total_seconds()) < 1, kind
    # queue_log's realtime `time` (UTC, to the microsecond) and cel_pgsql's epoch agree: the
    # caller entered the queue when CEL saw Queue() start
    entered = sa.text(
        "SELECT q.time, c.eventtime FROM asterisk_queue_log q JOIN asterisk_cel c "
        "ON c.uniqueid = q.callid AND c.eventtype = 'APP_START' AND c.appname = 'Queue' "
        "WHERE q.event = 'ENTERQUEUE' AND q.callid = :callid")
    engine = create_engine(remote_pbx)
    try:
        async with engine.connect() as connection:
            for kind, linkedid in calls.items():
                [(at, cel_at)] = (await connection.execute(
                    entered, {"callid": f"{linkedid}-2"})).all()
                line = QueueLogLine.from_row({"time": at})
                assert line is not None and abs(line.at - cel_at) < 1, kind
    finally:
        await engine.dispose()
    # one record per call, its legs and queue stays not doubled by the restart
    assert before[0] == 3 and after[0] == 4
    assert after[1] > before[1] and after[2] == before[2] + 1
