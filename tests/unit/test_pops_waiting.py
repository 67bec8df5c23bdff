"""Callers joining and leaving a queue are pushed to that queue's members' desktops only."""

from __future__ import annotations

import asyncio

from callcenter.calls.pops import ScreenPopHub, Subscriber
from callcenter.queues.live import LiveState


async def test_members_of_the_queue_are_told_how_many_wait_and_nobody_else_is():
    hub = ScreenPopHub(sessions=None, region="RU")  # type: ignore[arg-type]
    live = LiveState(clock=lambda: 1000.0)
    got: dict[str, list[dict]] = {"anna": [], "boris": []}
    done = asyncio.Event()

    def sender(name: str):
        async def send(message: dict) -> None:
            got[name].append(message)
            if len(got["anna"]) == 3:
                done.set()
        return send

    anna = Subscriber("PJSIP/1001", "Anna", "agent", sender("anna"))
    boris = Subscriber("PJSIP/1002", "Boris", "agent", sender("boris"))
    tasks = [asyncio.create_task(hub.serve(s)) for s in (anna, boris)]
    await asyncio.sleep(0)
    for event in (
        {"Event": "QueueMemberAdded", "Queue": "support", "Interface": "PJSIP/1001",
         "MemberName": "Anna", "Paused": "0", "Timestamp": "900"},
        {"Event": "QueueMemberAdded", "Queue": "sales", "Interface": "PJSIP/1002",
         "MemberName": "Boris", "Paused": "0", "Timestamp": "900"},
        {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "c1", "Linkedid": "c1",
         "CallerIDNum": "+79161234567", "Timestamp": "950"},
        {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "c2", "Linkedid": "c2",
         "CallerIDNum": "+79161234568", "Timestamp": "960"},
        {"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": "c1", "Linkedid": "c1",
         "Timestamp": "970"},
    ):
        live.handle(event)  # as the AMI listener does, before its subscribers
        if event["Event"].startswith("QueueCaller"):
            hub.waiting_changed(event, live)
    async with asyncio.timeout(5):
        await done.wait()
    assert [(m["waiting"], m["longest_joined_at"]) for m in got["anna"]] == [
        (1, 950.0), (2, 950.0), (1, 960.0)]
    assert got["boris"] == []
    for subscriber in (anna, boris):
        subscriber.closed.set()
    await asyncio.gather(*tasks)
