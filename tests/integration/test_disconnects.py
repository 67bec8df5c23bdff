"""Asterisk going away, the network cutting, the database stopping: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.migrate import upgrade
from callcenter.service import Service
from callcenter.settings import Settings
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
    wait_for_final,
)
from tests.integration.proxy import CuttableProxy

pytestmark = pytest.mark.integration


async def health(service: Service) -> tuple[int, dict]:
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/health")
    return response.status_code, response.json()


async def test_stopping_asterisk_is_logged_and_the_listener_reconnects(service, asterisk,
                                                                      caplog):
    status, body = await health(service)
    assert (status, body["status"], body["down"]) == (200, "ok", [])
    assert (body["database"], body["ami"], body["agi"]) == (True, True, True)
    assert {name: task["alive"] for name, task in body["tasks"].items()} == {
        "record-writer": True, "ami": True, "retention": True, "ledger": True,
        "recordings-sweep": True, "dialler": True, "today-figures": True, "webhooks": True}
    assert body["writer"]["database_up"] is True and body["writer"]["spilled"] == 0
    assert body["ledger"]["enabled"] is True and body["ledger"]["lag_seconds"] >= 0
    with caplog.at_level(logging.INFO, logger="callcenter"):
        await asyncio.to_thread(asterisk.down)
        async with asyncio.timeout(10):
            while service.ami.connected:
                await asyncio.sleep(0.1)
        status, body = await health(service)
        assert status == 503 and body["ami"] is False and body["database"] is True
        assert body["down"] == ["ami"]  # the AMI task itself is alive, reconnecting
        assert body["tasks"]["ami"]["alive"] is True
        assert "AMI connection lost or unavailable" in caplog.text

        await asyncio.to_thread(asterisk.up)
        async with asyncio.timeout(60):
            await service.ami.client.connected.wait()
    assert "AMI connected" in caplog.text
    assert (await health(service))[0] == 200

    # and calls are followed again
    linkedid = await place_inbound_call(service, caller="+79161234500", patience=2,
                                        variables={"CC_QUEUE": "sales"})
    assert (await wait_for_call(service, linkedid)).outcome == "abandoned"


@pytest.fixture
async def service_behind_proxy(asterisk, tmp_path: Path):
    """A second service (own SQLite database) reaching AMI through a cuttable proxy, with
    the ledger (CEL and queue_log) it reads directly."""
    proxy = await CuttableProxy(5038).start()
    url = f"sqlite+aiosqlite:///{tmp_path}/gap.db"
    await asyncio.to_thread(upgrade, url)
    svc = Service(Settings(database_url=url, ami_port=proxy.port, agi_port=0,
                           recordings_dir=tmp_path,
                           cel_path=asterisk.cel_path, queue_log_path=asterisk.queue_log_path))
    await svc.start()
    async with asyncio.timeout(30):
        await svc.ami.client.connected.wait()
    yield svc, proxy
    await svc.stop()
    await proxy.stop()


async def test_calls_through_a_network_gap_get_exactly_one_correct_record(
        service, service_behind_proxy):
    behind, proxy = service_behind_proxy
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    try:
        long_call = await place_inbound_call(service, caller="+79161230001", talk=12)
        short_call = await place_inbound_call(service, caller="+79161230002", patience=2,
                                              variables={"CC_QUEUE": "sales"})
        await asyncio.sleep(1.5)  # both calls known to the listener, neither ended
        proxy.refusing = True
        proxy.cut()
        # a call that begins and ends entirely while the listener is away
        unseen_call = await place_inbound_call(service, caller="+79161230003", patience=5,
                                               variables={"CC_QUEUE": "sales"})
        # and one that hangs up during the recording notice, before any queue
        unseen_early = await place_inbound_call(service, caller="+79161230004", patience=1)
        await wait_for_call(service, unseen_call)
        await wait_for_call(service, unseen_early)
        await asyncio.sleep(0.5)
        proxy.refusing = False
        async with asyncio.timeout(30):
            await behind.ami.client.connected.wait()

        truth_long = await wait_for_final(service, long_call)
        truth_short = await wait_for_final(service, short_call)
        seen_long = await wait_for_final(behind, long_call)
        seen_short = await wait_for_final(behind, short_call)
    finally:
        await logout_everyone(service, "support", "sales")

    # the call that outlived the gap: exactly as the uninterrupted service has it
    for field in ("outcome", "agent", "wait_seconds", "talk_seconds", "caller", "called",
                  "queue", "ended_at", "answered_at", "hangup_by"):
        assert getattr(seen_long, field) == getattr(truth_long, field), field
    # the call that ended unseen: closed by the live view with its end inferred, then
    # corrected by the ledger to what Asterisk logged
    assert not seen_short.end_inferred
    for field in ("outcome", "caller", "queue", "wait_seconds", "ended_at", "hangup_by"):
        assert getattr(seen_short, field) == getattr(truth_short, field), field
    # the calls the listener never saw: from the ledger, under their own Linkedid
    truth_unseen = await wait_for_final(service, unseen_call)
    recovered = await wait_for_final(behind, unseen_call)
    assert (recovered.outcome, recovered.queue, recovered.caller) == (
        "abandoned", "sales", "+79161230003")
    assert recovered.wait_seconds == truth_unseen.wait_seconds
    recovered_early = await wait_for_final(behind, unseen_early)
    assert (recovered_early.outcome, recovered_early.queue, recovered_early.caller,
            recovered_early.called, recovered_early.hangup_by) == (
        "abandoned", None, "+79161230004", "+74950000000", "customer")
    async with behind.sessions() as session:  # each call once
        for linkedid in (long_call, short_call, unseen_call, unseen_early):
            assert await session.scalar(select(func.count()).select_from(Call).where(
                Call.linkedid.startswith(linkedid))) == 1, linkedid


async def test_database_down_for_30_seconds_loses_nothing(service, postgres, caplog):
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    service.writer.max_in_memory = 2  # past two pending records, they go to disk
    spilled_before = service.writer.spilled_total
    try:
        await asyncio.to_thread(postgres.stop)
        calls = [await place_inbound_call(service, caller=f"+7916444000{i}", talk=1)
                 for i in range(3)]
        calls += [await place_inbound_call(service, caller="+79164440009", patience=1,
                                           variables={"CC_QUEUE": "sales"})]
        await asyncio.sleep(30)
        assert service.writer.pending >= len(calls)
        assert (await health(service))[1]["database"] is False
        await asyncio.to_thread(postgres.pg_ctl, "start", "-w", "-l",
                                str(postgres.base / "log"), "-o", postgres.options)
        records = [await wait_for_call(service, lid, timeout=60) for lid in calls]
    finally:
        service.writer.max_in_memory = 50_000
        await logout_everyone(service, "support", "sales")
    assert service.writer.spilled_total > spilled_before
    assert not service.writer.spill_file.exists()
    assert [r.outcome for r in records] == ["answered"] * 3 + ["abandoned"]
    assert "database write failed; records kept and retried" in caplog.text
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(
            Call.linkedid.in_(calls))) == len(calls)


async def test_asterisk_restarted_in_the_middle_of_calls(service, asterisk):
    """The calls die with Asterisk; each still gets exactly one record, then life goes on."""
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    talking = await place_inbound_call(service, caller="+79161239901", talk=60)
    waiting = await place_inbound_call(service, caller="+79161239902", patience=60,
                                       variables={"CC_QUEUE": "sales"})
    async with asyncio.timeout(30):
        while (talking not in service.tracker.calls
               or not service.tracker.calls[talking].stays
               or service.tracker.calls[talking].stays[-1].connected_at is None
               or waiting not in service.tracker.calls
               or not service.tracker.calls[waiting].stays):
            await asyncio.sleep(0.2)
    await asyncio.to_thread(asterisk.down)
    await asyncio.to_thread(asterisk.up)
    async with asyncio.timeout(60):
        await service.ami.client.connected.wait()
    answered = await wait_for_call(service, talking)
    abandoned = await wait_for_call(service, waiting)
    assert (answered.outcome, answered.agent, answered.queue) == ("answered", "Anna", "support")
    assert answered.talk_seconds is not None and answered.talk_seconds < 60
    assert (abandoned.outcome, abandoned.queue, abandoned.agent) == ("abandoned", "sales", None)
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Call).where(
            Call.linkedid.in_([talking, waiting]))) == 2
    # the agent came back with Asterisk (persistent members); a new call is followed
    after = await place_inbound_call(service, caller="+79161239903", talk=1)
    assert (await wait_for_call(service, after)).agent == "Anna"
    await logout_everyone(service, "support", "sales")
