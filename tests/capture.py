"""Records real AMI traces from the local Asterisk for the unit tests (tests/traces/*.ami).

    python -m tests.capture            # all scenarios
    python -m tests.capture answered   # one

Each trace is the raw bytes a logged-in AMI connection received while the scenario ran, greeting
included, so the unit tests replay exactly what Asterisk sent.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from callcenter.ami.protocol import encode_action
from callcenter.calls.clicktocall import click_to_call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.service import Service
from callcenter.settings import Settings
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    transfer_when_connected,
    wait_for_call,
)
from tests.rig import scratch_service

TRACES = Path(__file__).parent / "traces"


async def answered(svc: Service) -> list[str]:
    await login_agent(svc, "support", "Anna", "2001")
    return [await place_inbound_call(svc, caller="+79161234567", name="Иван Петров", talk=3)]


async def abandoned(svc: Service) -> list[str]:
    return [await place_inbound_call(svc, caller="89161112233", patience=3,
                                     variables={"CC_QUEUE": "sales"})]


async def timeout(svc: Service) -> list[str]:
    return [await place_inbound_call(svc, caller="+4930123456", patience=20,
                                     variables={"CC_QUEUE": "sales", "CC_QUEUE_TIMEOUT": "3"})]


async def transfer(svc: Service) -> list[str]:
    await login_agent(svc, "support", "Anna", "2001")
    return [await transfer_when_connected(svc, caller="+79161234567", target="5000")]


async def clicktocall(svc: Service) -> list[str]:
    return [await click_to_call(svc.ami.client, svc.tracker, agent="Anna",
                                agent_interface="Local/2001@cc-test-agent/n",
                                customer_e164="+79169876543")]


async def ivr(svc: Service) -> list[str]:
    """A VIP contact (Russian) picks billing (3), then sales (1) in the IVR."""
    async with svc.sessions() as session:
        contact = Contact(name="Мария Иванова", language="ru", vip=True)
        contact.numbers.append(ContactNumber(number="+79031234567"))
        session.add(contact)
        await session.commit()
    await login_agent(svc, "sales", "Sveta", "2003")
    return [await place_inbound_call(svc, caller="+79031234567", name="",
                                     variables={"CC_IVR_MENU": "main"}, press=["3", "1"])]


async def agents(svc: Service) -> list[str]:
    interface = await login_agent(svc, "support", "Boris", "2002")
    await svc.ami.client.action({"Action": "QueuePause", "Queue": "support",
                                 "Interface": interface, "Paused": "true", "Reason": "lunch"})
    await svc.ami.client.action({"Action": "QueuePause", "Queue": "support",
                                 "Interface": interface, "Paused": "false"})
    await svc.ami.client.action({"Action": "QueueRemove", "Queue": "support",
                                 "Interface": interface})
    await asyncio.sleep(1)
    return []


SCENARIOS = {f.__name__: f for f in (answered, abandoned, timeout, transfer, clicktocall, ivr,
                                     agents)}


async def record(name: str, svc: Service, settings: Settings) -> None:
    reader, writer = await asyncio.open_connection(settings.ami_host, settings.ami_port)
    writer.write(encode_action({"Action": "Login", "Username": settings.ami_user,
                                "Secret": settings.ami_secret.get_secret_value(),
                                "ActionID": "capture"}))
    chunks: list[bytes] = []

    async def pump() -> None:
        while data := await reader.read(65536):
            chunks.append(data)

    pumping = asyncio.create_task(pump())
    await asyncio.sleep(0.5)
    await logout_everyone(svc, "support", "sales")
    linkedids = await SCENARIOS[name](svc)
    for linkedid in linkedids:
        await wait_for_call(svc, linkedid, timeout=90)
    await logout_everyone(svc, "support", "sales")
    await asyncio.sleep(1)
    pumping.cancel()
    writer.close()
    TRACES.mkdir(exist_ok=True)
    (TRACES / f"{name}.ami").write_bytes(b"".join(chunks))
    print(f"{name}: {sum(map(len, chunks))} bytes, calls {linkedids}")


async def main(names: list[str]) -> None:
    svc = await scratch_service()
    try:
        for name in names or list(SCENARIOS):
            await record(name, svc, svc.settings)
    finally:
        await svc.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
