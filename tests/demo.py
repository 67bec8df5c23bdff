"""`make demo`: the local Asterisk, the service on the embedded SQLite database, and a sample
queue call — a call record, a recording and a screen pop within minutes.

    python -m tests.demo          # then stays up on http://127.0.0.1:8000 until Ctrl-C
    python -m tests.demo --once   # places the call, shows it, stops
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.logs import setup_logging
from callcenter.migrate import upgrade
from callcenter.service import Service
from callcenter.settings import Settings
from tests.integration.helpers import bearer, login_agent, place_inbound_call, wait_for_call
from tests.rig import Asterisk

CALLER = "+79161234567"


async def main(settings: Settings, recordings: Path, once: bool) -> None:
    print("• starting the local Asterisk 22 (first time: builds its root, about a minute)")
    await asyncio.to_thread(Asterisk(recordings).up)
    await asyncio.to_thread(upgrade, settings.database_url)
    service = Service(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(service=service), host=settings.http_host,
                                           port=settings.http_port, log_config=None))
    await service.start()
    serving = asyncio.create_task(server.serve())
    try:
        await asyncio.wait_for(service.ami.client.connected.wait(), 30)
        async with service.sessions() as session:
            if not await session.scalar(select(ContactNumber).where(
                    ContactNumber.number == CALLER)):
                session.add(Contact(name="Иван Петров (demo)", vip=True, language="ru",
                                    numbers=[ContactNumber(number=CALLER)]))
                await session.commit()
        headers = await bearer(service, "demo-supervisor")
        print("• agent 'Demo Agent' logs in to queue support; a customer calls in")
        await login_agent(service, "support", "Demo Agent", "2001")
        linkedid = await place_inbound_call(service, caller=CALLER, name="", talk=4)
        await wait_for_call(service, linkedid, timeout=60)
        base = f"http://{settings.http_host}:{settings.http_port}"
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            [call] = (await http.get("/calls", params={"linkedid": linkedid})).json()
            pop = (await http.get("/screenpop", params={"number": "8 916 123-45-67"})).json()
        print("\n• the call record (GET /calls):")
        print(json.dumps(call, indent=2, ensure_ascii=False))
        print("\n• the screen pop an agent gets (GET /screenpop):")
        print(json.dumps(pop, indent=2, ensure_ascii=False)[:1500])
        for recording in call["recordings"]:
            print(f"\n• recording: GET {base}/recordings/{recording['id']} "
                  f"({recording['size_bytes']} bytes in {recordings})")
        print(f"\n• supervisor token for curl: {headers['Authorization']}")
        if not once:
            print(f"• the service runs on {base} (docs: {base}/docs); Ctrl-C stops it")
            await serving
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        await service.stop()


if __name__ == "__main__":
    setup_logging("WARNING")
    demo_settings = Settings()
    asyncio.run(main(demo_settings, demo_settings.recordings_dir.resolve(), "--once" in sys.argv))
