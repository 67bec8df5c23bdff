"""The fault suite: calls flow at one a second for a minute (answered, abandoned, timed out)
while the service is killed, Asterisk restarts, AMI is cut behind a slow link, or PostgreSQL
stops. Afterwards every call is compared with Asterisk's own queue_log and CEL: none missing,
none doubled, none wrong, every recording linked or deleted as policy says, and every caller
heard the recording notice, even while the service was down.

The service under test runs as its own process (it must be killable), on its own database and
its own FastAGI port (the dialplan's CC_AGI is pointed at it for the test). The calls are
placed on a separate AMI connection, which plays the callers and the agents' phones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callcenter.ami.client import AMIClient, AMIError
from callcenter.calls.models import Call
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from tests.integration.proxy import CuttableProxy
from tests.rig import ROOT, Asterisk, Postgres, free_port

pytestmark = pytest.mark.integration

CALLS = 62  # one a second: a minute of calls
FAULT_AT = 30.0  # seconds into the calls
AGENTS = ["Fa", "Fb", "Fc", "Fd", "Fe", "Ff"]
AGI_PORT = 4574
NOTICE = "conf-now-recording"
# queue_log's words for how a stay ended: (outcome, who hung up)
ENDINGS = {"COMPLETEAGENT": ("answered", "agent"), "COMPLETECALLER": ("answered", "customer"),
           "ABANDON": ("abandoned", "customer"), "EXITWITHTIMEOUT": ("timeout", "system")}


@dataclass
class Truth:
    """What Asterisk's own logs say of one call, read independently of the service's code."""

    linkedid: str
    ended: bool = False
    queue: str | None = None
    outcome: str = "abandoned"  # hung up during the notice, before any queue
    hangup_by: str = "customer"
    agent: str | None = None
    wait: float | None = None
    talk: float | None = None
    recording: str | None = None
    notice: bool = False  # the notice played (CC_NOTICE in CEL, by the route or the dialplan)
    verbs: list[str] = field(default_factory=list)


def read_truth(asterisk: Asterisk, linkedids: list[str]) -> dict[str, Truth]:
    truth = {lid: Truth(lid) for lid in linkedids}
    for line in asterisk.cel_path.read_text(errors="replace").splitlines():
        event = json.loads(line)
        call = truth.get(event["linkedid"])
        if call is None:
            continue
        if event["eventtype"] == "LINKEDID_END":
            call.ended = True
        elif event["eventtype"] == "APP_START" and event["appname"] == "MixMonitor":
            call.recording = event["appdata"].split(",")[0]
        elif event["userdeftype"] == "CC_NOTICE" and NOTICE in event["eventextra"]:
            call.notice = True
    by_callid = {f"{lid}-2": call for lid, call in truth.items()}
    for fields in asterisk.queue_log():
        if len(fields) < 5 or fields[1] not in by_callid:
            continue
        call, verb, data = by_callid[fields[1]], fields[4], fields[5:]
        call.verbs.append(verb)
        if verb == "ENTERQUEUE":
            call.queue = fields[2]
        elif verb == "CONNECT":
            call.agent = fields[3]
        elif verb in ("COMPLETEAGENT", "COMPLETECALLER"):
            call.outcome, call.hangup_by = ENDINGS[verb]
            call.wait, call.talk = float(data[0]), float(data[1])
        elif verb in ("ABANDON", "EXITWITHTIMEOUT"):
            call.outcome, call.hangup_by = ENDINGS[verb]
            call.wait = float(data[2])
    return truth


class Driver:
    """The callers and the agents' phones, on an AMI connection of their own."""

    def __init__(self) -> None:
        self.client = AMIClient("127.0.0.1", 5038, "callcenter", "callcenter",
                                on_event=lambda _event: None, max_backoff=1.0)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Driver:
        self._task = asyncio.create_task(self.client.run())
        await asyncio.wait_for(self.client.connected.wait(), 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def set_agi(self, address: str) -> None:
        await self.client.action({"Action": "Setvar", "Variable": "CC_AGI", "Value": address})

    async def agents(self, login: bool) -> None:
        for number, name in enumerate(AGENTS, start=2101):
            action = {"Action": "QueueAdd" if login else "QueueRemove", "Queue": "support",
                      "Interface": f"Local/{number}@cc-test-agent/n"}
            if login:
                action["MemberName"] = name
            with contextlib.suppress(AMIError):  # already in / already out
                await self.client.action(action)

    async def call(self, index: int) -> str | None:
        """Caller `index` of a mix: answered (the agent or the caller hangs up), abandoned,
        timed out. None when Asterisk could not take the call (it was restarting)."""
        linkedid = f"fault-{uuid.uuid4().hex[:12]}"
        kind = index % 5
        variables = {"__CC_TEST_TALK": "4"}
        patience = 40
        if kind == 2:  # the caller hangs up while talking
            variables["__CC_TEST_TALK"], patience = "30", 9
        elif kind == 3:  # gives up waiting in an empty queue
            variables["CC_QUEUE"], patience = "sales", 6
        elif kind == 4:  # the queue gives up on them
            variables |= {"CC_QUEUE": "sales", "CC_QUEUE_TIMEOUT": "2"}
            patience = 15
        try:
            await self.client.action({
                "Action": "Originate", "Channel": "Local/74950000000@callcenter-inbound",
                "Application": "Wait", "Data": str(patience),
                "CallerID": f'"Caller {index}" <+7916555{index:04d}>',
                "ChannelId": linkedid, "OtherChannelId": f"{linkedid}-2",
                "Variable": [f"{k}={v}" for k, v in variables.items()], "Async": "true",
            }, timeout=5)
        except AMIError:
            return None
        return linkedid


class ServiceProcess:
    """`callcenter run` as a process of its own, to be killed like a real one."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.http = f"http://127.0.0.1:{env['CALLCENTER_HTTP_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(env["CALLCENTER_SPOOL_DIR"]) / "service.log"

    async def start(self) -> None:
        self.process = await asyncio.to_thread(self._spawn)
        await self.until(lambda body: body["ami"] and body["agi"] and body["database"])

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "callcenter", "run"], env=self.env,
                                    stdout=log, stderr=log, cwd=ROOT)

    async def health(self) -> dict | None:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                return (await http.get(f"{self.http}/health")).json()
        except (httpx.HTTPError, ValueError):
            return None

    async def until(self, ready: Callable[[dict], bool], timeout: float = 60) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                body = await self.health()
                if body is not None and ready(body):
                    return body
                await asyncio.sleep(0.25)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 30)


@pytest.fixture
async def fault_env(postgres: Postgres, asterisk: Asterisk, recordings_dir: Path, tmp_path):
    """A database, spool and ports of the service under test's own; CC_AGI points at it."""
    name = f"faults_{uuid.uuid4().hex[:8]}"
    url = await asyncio.to_thread(postgres.create_database, name)
    await asyncio.to_thread(upgrade, url)
    env = {**os.environ,
           "CALLCENTER_DATABASE_URL": url,
           "CALLCENTER_AGI_PORT": str(AGI_PORT),
           "CALLCENTER_HTTP_PORT": str(free_port()),
           "CALLCENTER_RECORDINGS_DIR": str(recordings_dir),
           "CALLCENTER_SPOOL_DIR": str(tmp_path / "spool"),
           "CALLCENTER_CEL_PATH": str(asterisk.cel_path),
           "CALLCENTER_QUEUE_LOG_PATH": str(asterisk.queue_log_path),
           "CALLCENTER_AMI_PING_INTERVAL": "5"}
    (tmp_path / "spool").mkdir()
    async with Driver() as driver:
        await driver.set_agi(f"agi://127.0.0.1:{AGI_PORT}")
        await driver.agents(login=True)
    yield env
    async with Driver() as driver:
        await driver.agents(login=False)
        await driver.set_agi("agi://127.0.0.1:4573")


async def run_calls_through(service: ServiceProcess, fault: Callable[[], Awaitable[None]],
                            asterisk: Asterisk, after_fault: Callable[[Driver], Awaitable[None]]
                            | None = None) -> tuple[dict[str, Truth], list[str]]:
    """Places the calls, strikes the fault FAULT_AT seconds in, and returns the truth and the
    calls placed during the fault, once every call is over and the service has caught up."""
    await service.start()
    linkedids: list[str] = []
    during_fault: list[str] = []
    striking = False
    try:
        async with Driver() as driver:
            started = time.monotonic()

            async def strike() -> None:
                nonlocal striking
                await asyncio.sleep(FAULT_AT)
                striking = True
                await fault()
                striking = False
                if after_fault is not None:
                    await after_fault(driver)

            fault_task = asyncio.create_task(strike())
            for index in range(CALLS):
                linkedid = await driver.call(index)
                if linkedid is not None:
                    linkedids.append(linkedid)
                    if striking:
                        during_fault.append(linkedid)
                # one a second, whatever the originate took
                await asyncio.sleep(max(0.0, started + index + 1 - time.monotonic()))
            await fault_task
        # every call over in Asterisk (the longest lasts ~45 s)
        async with asyncio.timeout(90):
            while not all(t.ended for t in read_truth(asterisk, linkedids).values()):
                await asyncio.sleep(1)
        # ... and the service caught up with the ledger
        await service.until(lambda body: body["ledger"]["lag_seconds"] == 0
                            and body["ledger"]["open_calls"] == 0, timeout=120)
    finally:
        await service.stop()
    return read_truth(asterisk, linkedids), during_fault


async def assert_exact(truth: dict[str, Truth], url: str, asterisk: Asterisk,
                       during_fault: list[str]) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            calls = {c.linkedid: c for c in await session.scalars(
                select(Call).where(Call.linkedid.in_(truth)))}
            recordings = {r.linkedid: r for r in await session.scalars(
                select(Recording).where(Recording.linkedid.in_(truth)))}
    finally:
        await engine.dispose()
    assert len(truth) >= CALLS - 5, "calls were placed"
    outcomes = {t.outcome for t in truth.values()}
    assert {"answered", "abandoned", "timeout"} <= outcomes, outcomes
    missing = sorted(set(truth) - set(calls))
    assert not missing, f"{len(missing)} calls missing"
    on_disk = await asyncio.to_thread(
        lambda: {lid for lid, t in truth.items() if t.recording and Path(t.recording).exists()})
    wrong = []
    for linkedid, expected in truth.items():
        call = calls[linkedid]
        got = (call.source, call.queue, call.outcome, call.agent, call.hangup_by)
        want = ("ledger", expected.queue, expected.outcome, expected.agent, expected.hangup_by)
        if got != want:
            wrong.append(f"{linkedid} {expected.verbs}: {got} != {want}")
        for name, value in (("wait_seconds", expected.wait), ("talk_seconds", expected.talk)):
            if value is not None and (getattr(call, name) is None
                                      or abs(getattr(call, name) - value) > 1):
                wrong.append(f"{linkedid}: {name} {getattr(call, name)} != {value}")
        if expected.recording is not None:
            kept = linkedid in on_disk
            linked = linkedid in recordings
            if expected.outcome == "answered" and not (kept and linked):
                wrong.append(f"{linkedid}: answered, recording kept={kept} linked={linked}")
            if expected.outcome != "answered" and (kept or linked):
                wrong.append(f"{linkedid}: unanswered, recording kept={kept} linked={linked}")
            if not expected.notice:
                wrong.append(f"{linkedid}: recorded without the notice")
        elif expected.queue is not None:
            wrong.append(f"{linkedid}: reached a queue but was never recorded")
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n".join(wrong)
    reached_queue = [lid for lid in during_fault if truth[lid].queue is not None]
    for linkedid in reached_queue:  # heard the notice and recorded, whatever was down
        assert truth[linkedid].recording is not None, linkedid


async def test_service_killed_and_restarted_20_s_later(fault_env, asterisk):
    service = ServiceProcess(fault_env)

    async def kill_and_restart() -> None:
        service.kill()
        await asyncio.sleep(20)  # the outage being simulated
        await service.start()

    truth, during = await run_calls_through(service, kill_and_restart, asterisk)
    assert during, "calls were placed while the service was down"
    await assert_exact(truth, fault_env["CALLCENTER_DATABASE_URL"], asterisk, during)


async def test_asterisk_restarted(fault_env, asterisk):
    async def restart() -> None:
        await asyncio.to_thread(asterisk.restart_now)

    async def point_agi_at_the_service(driver: Driver) -> None:
        await asyncio.wait_for(driver.client.connected.wait(), 60)
        await driver.set_agi(f"agi://127.0.0.1:{AGI_PORT}")  # the restart reset globals

    truth, during = await run_calls_through(ServiceProcess(fault_env), restart, asterisk,
                                            point_agi_at_the_service)
    await assert_exact(truth, fault_env["CALLCENTER_DATABASE_URL"], asterisk, during)


async def test_ami_cut_for_30_s_behind_a_slow_link(fault_env, asterisk):
    proxy = await CuttableProxy(5038, latency=1.0).start()
    env = {**fault_env, "CALLCENTER_AMI_PORT": str(proxy.port)}

    async def cut() -> None:
        proxy.refusing = True
        proxy.cut()
        await asyncio.sleep(30)  # the gap being simulated
        proxy.refusing = False

    try:
        truth, during = await run_calls_through(ServiceProcess(env), cut, asterisk)
    finally:
        await proxy.stop()
    await assert_exact(truth, env["CALLCENTER_DATABASE_URL"], asterisk, during)


async def test_postgresql_stopped_60_s(fault_env, asterisk, postgres):
    async def stop_database() -> None:
        await asyncio.to_thread(postgres.stop)
        await asyncio.sleep(60)  # the outage being simulated
        await asyncio.to_thread(postgres.start_again)

    truth, during = await run_calls_through(ServiceProcess(fault_env), stop_database, asterisk)
    await assert_exact(truth, fault_env["CALLCENTER_DATABASE_URL"], asterisk, during)
