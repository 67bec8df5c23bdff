"""Records real FastAGI conversations between Asterisk and the service (tests/traces/agi/).

    python -m tests.capture_agi

A recording proxy takes the dialplan's port (4573) and forwards to the service on 4574; each
connection is saved as JSON lines {"from": "asterisk"|"service", "data": ...}.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from callcenter.contacts.models import Contact, ContactNumber
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.rig import scratch_service

OUT = Path(__file__).parent / "traces" / "agi"


class RecordingProxy:
    def __init__(self, target: int) -> None:
        self.target = target
        self.sessions: list[list[dict[str, str]]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        log: list[dict[str, str]] = []
        self.sessions.append(log)

        async def pipe(src, dst, who):
            while data := await src.read(65536):
                log.append({"from": who, "data": data.decode("utf-8", "replace")})
                dst.write(data)
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, "asterisk"),
                             pipe(up_reader, writer, "service"), return_exceptions=True)


async def main() -> None:
    proxy = RecordingProxy(4574)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 4573)
    svc = await scratch_service(agi_port=4574)
    try:
        async with svc.sessions() as session:
            contact = Contact(name="Мария Иванова", language="ru", vip=True)
            contact.numbers.append(ContactNumber(number="+79031234567"))
            session.add(contact)
            await session.commit()
        await logout_everyone(svc, "support", "sales")
        await login_agent(svc, "sales", "Sveta", "2003")
        calls = {
            "vip-menu": await place_inbound_call(svc, caller="+79031234567", name="",
                                                 variables={"CC_IVR_MENU": "main"},
                                                 press=["3", "1"]),
        }
        await wait_for_call(svc, calls["vip-menu"], timeout=60)
        calls["hangup-in-menu"] = await place_inbound_call(
            svc, caller="+4930123456", patience=5, variables={"CC_IVR_MENU": "main"})
        await wait_for_call(svc, calls["hangup-in-menu"], timeout=60)
        await logout_everyone(svc, "support", "sales")
    finally:
        await svc.stop()
        server.close()
    OUT.mkdir(parents=True, exist_ok=True)
    for n, session_log in enumerate(proxy.sessions):
        first = session_log[0]["data"] if session_log else ""
        script = next((line.split(": ", 1)[1] for line in first.splitlines()
                       if line.startswith("agi_network_script: ")), "unknown")
        name = f"{n:02d}-{script.split('?')[0]}.jsonl"
        (OUT / name).write_text("".join(json.dumps(e, ensure_ascii=False) + "\n"
                                        for e in session_log))
        print(name, len(session_log))


if __name__ == "__main__":
    asyncio.run(main())
