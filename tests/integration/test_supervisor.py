"""The supervisor's actions through the real Asterisk: pause with a reason, resume, remove from
and add to a queue, log out (each audited, each seen in the live state from Asterisk's own
events); listen, whisper and barge ring the supervisor's own (Local-channel) phone, which gets
a ChanSpy channel on the agent's call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.audit.models import AuditEntry
from callcenter.users.models import User
from callcenter.users.service import create_token, create_user
from tests.integration.helpers import logout_everyone, place_inbound_call, wait_for_call

pytestmark = pytest.mark.integration

AGENT = "Local/2041@cc-test-agent/n"
SPIED = "Local/2042@cc-test-agent/n"
PHONE = "Local/9041@cc-test-supervisor/n"


async def token_of(service, username: str, role: str, agent: str | None = None,
                   interface: str | None = None) -> dict[str, str]:
    async with service.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface)
        token = await create_token(session, user)
        await session.commit()
    return {"Authorization": f"Bearer {token}"}


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Polls the service's live state (fed by AMI events) until `check` holds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


@pytest.fixture
async def http(service):
    await logout_everyone(service, "support", "sales", "vip")
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await logout_everyone(service, "support", "sales", "vip")


async def audited(service, action: str, username: str) -> list[AuditEntry]:
    async with service.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.object_id == username)))


async def test_a_supervisor_pauses_resumes_moves_and_logs_out_an_agent(service, http):
    await token_of(service, "act-agent", "agent", "ActAgent", AGENT)
    sup = await token_of(service, "act-sup", "supervisor")
    live = service.live.members
    act = lambda body: http.post("/agents/act-agent", json=body, headers=sup)  # noqa: E731

    assert (await act({"action": "login", "queues": ["support", "sales"]})).status_code == 200
    await until(lambda: AGENT in live and live[AGENT].queues == {"support", "sales"})
    assert (await act({"action": "pause", "reason": "coaching"})).status_code == 200
    await until(lambda: live[AGENT].paused and live[AGENT].paused_reason == "coaching")
    assert (await act({"action": "unpause"})).status_code == 200
    await until(lambda: not live[AGENT].paused)
    assert (await act({"action": "logout", "queues": ["sales"]})).status_code == 200
    await until(lambda: live[AGENT].queues == {"support"})
    assert (await act({"action": "logout"})).status_code == 200
    await until(lambda: AGENT not in live)
    for action in ("login", "pause", "unpause", "logout"):
        assert await audited(service, f"agent.{action}", "act-agent"), action
    [pause] = await audited(service, "agent.pause", "act-agent")
    assert pause.username == "act-sup" and "reason=coaching" in pause.details


async def test_listen_whisper_and_barge_put_chanspy_on_the_agents_call(service, http):
    await token_of(service, "spy-agent", "agent", "SpyAgent", SPIED)
    sup = await token_of(service, "spy-sup", "supervisor", interface=PHONE)
    spying: list[dict[str, str]] = []
    unsubscribe = service.ami.subscribe(spying.append, frozenset({"ChanSpyStart"}))
    try:
        assert (await http.post("/agents/spy-agent", headers=sup, json={
            "action": "login", "queues": ["support"]})).status_code == 200
        await until(lambda: SPIED in service.live.members)
        linkedid = await place_inbound_call(service, caller="+79265550041", talk=25)
        member = service.live.members[SPIED]
        await until(lambda: member.on_call == linkedid and member.channel is not None, 20)
        for n, mode in enumerate(("listen", "whisper", "barge"), start=1):
            started = await http.post("/agents/spy-agent/spy", json={"mode": mode}, headers=sup)
            assert started.status_code == 202, started.text
            assert started.json() == {"agent": "SpyAgent", "mode": mode, "phone": PHONE}
            await until(lambda n=n: len(spying) >= n, 10)
            event = spying[n - 1]
            # the supervisor's phone (Local/9041@cc-test-supervisor-…;1 runs ChanSpy) on the
            # agent's channel of this very call
            assert event["SpyeeChannel"] == member.channel
            assert event["SpyerChannel"].startswith("Local/9041@cc-test-supervisor-")
            assert event.get("SpyeeLinkedid", linkedid) == linkedid
            [entry] = await audited(service, f"agent.{mode}", "spy-agent")
            assert entry.username == "spy-sup" and entry.details == f"call={linkedid}"
    finally:
        unsubscribe()
    call = await wait_for_call(service, linkedid)
    assert (call.agent, call.outcome) == ("SpyAgent", "answered")
