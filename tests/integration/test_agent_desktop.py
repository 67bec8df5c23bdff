"""The agent's desktop against the real Asterisk: screen pop on ring, click-to-call, state."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.recordings.models import Recording
from callcenter.users.models import User
from callcenter.users.service import create_token, create_user
from tests.integration.helpers import (
    bearer,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.rig import serving

pytestmark = pytest.mark.integration


async def agent_token(service, username: str, name: str, extension: str) -> str:
    async with service.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            user = await create_user(session, username=username, role="agent", agent_name=name,
                                     interface=f"Local/{extension}@cc-test-agent/n")
        token = await create_token(session, user)
        await session.commit()
    return token


async def agent_socket(desktop: str, token: str) -> websockets.connect:
    """Opened as the browser does: the token traded for a single-use ticket first."""
    async with httpx.AsyncClient(base_url=f"http://{desktop}") as http:
        response = await http.post("/auth/ws-ticket",
                                   headers={"Authorization": f"Bearer {token}"})
    return websockets.connect(f"ws://{desktop}/ws/agent?ticket={response.json()['ticket']}")


async def next_message(ws, kind: str | None = None, timeout: float = 30) -> dict:
    """The next message of `kind`; any kind but the queue's waiting counts (pushed to its
    members whenever a caller joins or leaves)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind or (kind is None and message["type"] != "waiting"):
                return message


@pytest.fixture
async def desktop(service):
    await logout_everyone(service, "support", "sales", "vip")
    async with serving(create_app(service=service)) as address:
        yield address
    await logout_everyone(service, "support", "sales", "vip")


async def test_screen_pop_arrives_before_the_agent_answers(service, desktop):
    async with service.sessions() as session:
        contact = Contact(name="Ольга Смирнова", vip=True,
                          numbers=[ContactNumber(number="+79265550011")])
        session.add(contact)
        await session.commit()
    token = await agent_token(service, "wanda", "Wanda", "2011")
    async with await agent_socket(desktop, token) as ws:
        assert (await next_message(ws))["type"] == "hello"
        async with httpx.AsyncClient(base_url=f"http://{desktop}") as http:
            login = await http.post("/agents/me", headers={"Authorization": f"Bearer {token}"},
                                    json={"action": "login", "queues": ["support"]})
            assert login.status_code == 200, login.text
            supervisor = await bearer(service, "sup-desk")
            async with asyncio.timeout(5):  # QueueMemberAdded may trail the QueueAdd answer
                while True:
                    queues = (await http.get("/queues", headers=supervisor)).json()
                    [support] = [q for q in queues if q["queue"] == "support"]
                    if support["members"]:
                        break
                    await asyncio.sleep(0.1)
        assert [(m["name"], m["paused"]) for m in support["members"]] == [("Wanda", False)]
        # Asterisk sends the caller ID as 8 926...: the pop still finds the contact
        linkedid = await place_inbound_call(service, caller="89265550011", talk=2)
        ring = await next_message(ws, "ring")  # after `state_changed` for her queue login
        assert ring["type"] == "ring" and ring["linkedid"] == linkedid
        assert ring["screenpop"]["contact"]["name"] == "Ольга Смирнова"
        assert ring["queue"] == "support"
        assert (await next_message(ws))["type"] == "connected"  # the pop came first
        assert (await next_message(ws, "hangup"))["linkedid"] == linkedid
    call = await wait_for_call(service, linkedid)
    assert (call.agent, call.outcome) == ("Wanda", "answered")


async def test_ring_all_every_agent_gets_the_pop_and_the_others_are_told(service, desktop):
    tokens = {name: await agent_token(service, name.lower(), name, ext)
              for name, ext in (("Xena", "2012"), ("Yuri", "2013"))}
    async with await agent_socket(desktop, tokens["Xena"]) as xena, \
            await agent_socket(desktop, tokens["Yuri"]) as yuri:
        for ws in (xena, yuri):
            await next_message(ws, "hello")
        for name, ext in (("Xena", "2012"), ("Yuri", "2013")):
            await service.ami.client.action({
                "Action": "QueueAdd", "Queue": "vip", "MemberName": name,
                "Interface": f"Local/{ext}@cc-test-agent/n"})
        linkedid = await place_inbound_call(service, caller="+79265550022",
                                            variables={"CC_QUEUE": "vip"})
        rings = [await next_message(ws, "ring") for ws in (xena, yuri)]
        assert all(r["linkedid"] == linkedid and r["screenpop"]["new"] for r in rings)
        outcomes = sorted([(await next_message(ws))["type"] for ws in (xena, yuri)])
        assert outcomes == ["answered_elsewhere", "connected"]


async def test_click_to_call_connects_agent_and_customer_and_is_recorded_outbound(service,
                                                                                   desktop):
    token = await agent_token(service, "wanda", "Wanda", "2011")
    async with await agent_socket(desktop, token) as ws:
        await next_message(ws, "hello")
        async with httpx.AsyncClient(base_url=f"http://{desktop}") as http:
            bad = await http.post("/calls", headers={"Authorization": f"Bearer {token}"},
                                  json={"number": "12"})
            assert bad.status_code == 422
            response = await http.post("/calls", headers={"Authorization": f"Bearer {token}"},
                                       json={"number": "8 916 987-65-43"})
        assert response.status_code == 202, response.text
        call_id = response.json()["call_id"]
        states = []
        while "ended" not in states:
            message = await next_message(ws, "click_to_call")
            assert message["call_id"] == call_id
            states.append(message["state"])
    assert states.index("agent_answered") < states.index("customer_ringing") \
        < states.index("connected") < states.index("ended")
    call = await wait_for_call(service, call_id)
    assert (call.direction, call.agent, call.called, call.outcome) == (
        "outbound", "Wanda", "+79169876543", "answered")
    async with service.sessions() as session:
        assert list(await session.scalars(select(Recording).where(
            Recording.linkedid == call_id)))
