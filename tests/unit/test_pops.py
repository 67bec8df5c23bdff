"""The screen-pop hub: a slow browser is dropped, never slowing the others."""

from __future__ import annotations

import asyncio

from callcenter.calls.pops import ScreenPopHub, Subscriber


async def test_a_slow_client_is_disconnected_and_the_others_get_everything():
    hub = ScreenPopHub(sessions=None, region="RU")  # type: ignore[arg-type]
    stuck = asyncio.Event()
    received: list[dict] = []

    async def slow_send(message: dict) -> None:
        await stuck.wait()  # a browser that never reads

    async def fast_send(message: dict) -> None:
        received.append(message)

    slow = Subscriber("PJSIP/1001", "Anna", "agent", slow_send)
    fast = Subscriber("PJSIP/1001", "Anna", "agent", fast_send)  # a second tab
    tasks = [asyncio.create_task(hub.serve(s)) for s in (slow, fast)]
    await asyncio.sleep(0)
    for n in range(500):
        hub.on_event({"Event": "AgentConnect", "Interface": "PJSIP/1001",
                      "Linkedid": f"call-{n}"})
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert slow.closed.is_set()
    assert [m["linkedid"] for m in received] == [f"call-{n}" for n in range(500)]
    assert hub.connected("PJSIP/1001") == 1  # the slow one is gone
    fast.closed.set()
    stuck.set()
    await asyncio.gather(*tasks)


async def test_an_agent_is_told_when_their_queues_or_pause_change_and_nobody_else_is():
    hub = ScreenPopHub(sessions=None, region="RU")  # type: ignore[arg-type]
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
    for event in ("QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved"):
        hub.on_event({"Event": event, "Interface": "PJSIP/1001", "Queue": "support"})
    async with asyncio.timeout(5):
        await done.wait()
    assert got["anna"] == [{"type": "state_changed", "queue": "support"}] * 3
    assert got["boris"] == []
    for subscriber in (anna, boris):
        subscriber.closed.set()
    await asyncio.gather(*tasks)
