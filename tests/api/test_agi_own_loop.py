"""FastAGI answers callers on an event loop of its own: a caller is served while the loop
that serves the web is held (here: blocked outright, as a long step of an import would)."""

from __future__ import annotations

import asyncio
import threading

from callcenter.contacts.models import Contact, ContactNumber
from tests.unit.agi_peer import load, recorded_commands, replay


async def test_a_caller_is_answered_while_the_web_loop_is_held(api):
    service = api.service
    transcript = load("01-lookup.jsonl")
    async with service.sessions() as session:
        session.add(Contact(name="Мария Иванова", vip=True,  # as in the recorded call
                            numbers=[ContactNumber(number="+79031234567")]))
        await session.commit()
    await service.start()
    try:
        answered: list[list[str]] = []
        caller = threading.Thread(
            target=lambda: answered.append(asyncio.run(replay(service.agi.port, transcript))))
        caller.start()
        caller.join(30)  # holds this (the web's) loop until the caller has been answered
        assert not caller.is_alive()
        expected = recorded_commands(transcript)
        assert answered == [expected]
        assert service.agi.sessions_served == 1
    finally:
        await service.stop()
