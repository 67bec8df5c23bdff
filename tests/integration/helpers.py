"""Placing phone-less calls through the real Asterisk, and waiting for their records."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from callcenter.calls.models import Call
from callcenter.service import Service
from callcenter.users.models import User
from callcenter.users.service import create_token, create_user


async def place_inbound_call(service: Service, *, caller: str, name: str = "Test Caller",
                             did: str = "74950000000", patience: int = 30, talk: int = 2,
                             variables: dict[str, str] | None = None,
                             press: list[str] | None = None) -> str:
    """A caller dials the DID from `caller` and waits up to `patience` seconds (then hangs up).

    `press`: keys the caller presses, one each time the IVR waits for a digit.
    Returns the call's Linkedid, preset through Originate's ChannelId.
    """
    linkedid = f"test-{uuid.uuid4().hex[:12]}"
    var = {"__CC_TEST_TALK": str(talk), **(variables or {})}
    if press:
        _press_when_asked(service, linkedid, list(press))
    await service.ami.client.action({
        "Action": "Originate",
        "Channel": f"Local/{did}@callcenter-inbound",
        "Application": "Wait",
        "Data": str(patience),
        "CallerID": f'"{name}" <{caller}>',
        "ChannelId": linkedid,
        "OtherChannelId": f"{linkedid}-2",
        "Variable": [f"{k}={v}" for k, v in var.items()],
        "Async": "true",
    })
    return linkedid


def _press_when_asked(service: Service, linkedid: str, keys: list[str]) -> None:
    """Sends the next key as DTMF from the caller's phone each time the IVR starts waiting
    (our ivr route sets CC_IVR_PATH just before GET DATA)."""
    phone: list[str] = []
    pressing: set[asyncio.Task[None]] = set()

    async def press(key: str) -> None:
        await asyncio.sleep(0.7)  # GET DATA is playing its prompt by now
        await service.ami.client.action({"Action": "PlayDTMF", "Channel": phone[0],
                                         "Digit": key, "Duration": 200})

    def watch(event: dict[str, str]) -> None:
        if event.get("Linkedid") != linkedid:
            return
        if event.get("Event") == "Newchannel" and event.get("Uniqueid") == linkedid:
            phone.append(event["Channel"])
        elif event.get("Event") == "VarSet" and event.get("Variable") == "CC_IVR_PATH" and keys:
            task = asyncio.create_task(press(keys.pop(0)))
            pressing.add(task)
            task.add_done_callback(pressing.discard)
        elif event.get("Event") == "Hangup" and event.get("Uniqueid") == linkedid:
            unsubscribe()

    unsubscribe = service.ami.subscribe(watch)


async def transfer_when_connected(service: Service, *, caller: str, target: str) -> str:
    """A queue call whose agent blind-transfers the caller to `target` once connected."""
    connected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    linkedid = ""

    def watch(event: dict[str, str]) -> None:
        if (event.get("Event") == "AgentConnect" and event.get("Linkedid") == linkedid
                and not connected.done()):
            connected.set_result(event["DestChannel"])

    unsubscribe = service.ami.subscribe(watch)
    try:
        linkedid = await place_inbound_call(service, caller=caller, talk=30)
        agent_channel = await asyncio.wait_for(connected, 60)
    finally:
        unsubscribe()
    await asyncio.sleep(1)
    await service.ami.client.action({"Action": "BlindTransfer", "Channel": agent_channel,
                                     "Context": "cc-test-customer", "Exten": target})
    return linkedid


async def login_agent(service: Service, queue: str, name: str, extension: str,
                      phone: str = "cc-test-agent") -> str:
    """`phone`: the test context the agent's device is (cc-test-slow-agent rings first)."""
    interface = f"Local/{extension}@{phone}/n"
    await service.ami.client.action({"Action": "QueueAdd", "Queue": queue,
                                     "Interface": interface, "MemberName": name})
    return interface


async def logout_everyone(service: Service, *queues: str) -> None:
    for queue in queues:
        members = await service.ami.client.action_list({"Action": "QueueStatus", "Queue": queue})
        for member in members:
            if member.get("Event") == "QueueMember":
                await service.ami.client.action({"Action": "QueueRemove", "Queue": queue,
                                                 "Interface": member["Location"]})


async def wait_for_call(service: Service, linkedid: str, timeout: float = 60, *,
                        final: bool = False) -> Call:
    """The call's record once written; `final`: once derived from Asterisk's ledger (CEL and
    queue_log), which may correct the live path's first record."""
    query = select(Call).where(Call.linkedid == linkedid)
    if final:
        query = query.where(Call.source == "ledger")
    async with asyncio.timeout(timeout):
        while True:
            async with service.sessions() as session:
                call = await session.scalar(query)
            if call is not None:
                break
            await asyncio.sleep(0.25)
        # the ledger's record can land before the live path has seen the call end and its
        # writer has added what only the live path knows (contact, VIP, IVR path, opt-out):
        # wait for both (AMI lags CEL on a loaded machine), then read again
        while linkedid in service.tracker.calls:
            await asyncio.sleep(0.05)
        await service.writer.drain(timeout=timeout)
        async with service.sessions() as session:
            return await session.scalar(query)


async def wait_for_final(service: Service, linkedid: str, timeout: float = 60) -> Call:
    return await wait_for_call(service, linkedid, timeout, final=True)


async def bearer(service: Service, username: str, role: str = "supervisor") -> dict[str, str]:
    """Authorization header of a (created on first use) user of the service's database."""
    async with service.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            user = await create_user(session, username=username, role=role)
        token = await create_token(session, user)
        await session.commit()
    return {"Authorization": f"Bearer {token}"}
