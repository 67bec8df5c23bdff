"""The supervisors' live feed: one picture per burst of events, the newest for a slow screen,
a heartbeat when nothing changes, and each screen sent only the agents that changed since
what it was sent."""

from __future__ import annotations

import asyncio
import json

from callcenter.queues.feed import QueueFeed, Watcher
from callcenter.queues.live import LiveState


def join(uniqueid: str, at: float) -> dict[str, str]:
    return {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": uniqueid,
            "Linkedid": uniqueid, "CallerIDNum": "+79160000001", "Timestamp": str(at)}


async def watching(feed: QueueFeed, received: list[dict], until: int) -> None:
    done = asyncio.Event()

    async def send(text: str) -> None:
        received.append(json.loads(text))
        if len(received) >= until:
            done.set()

    watcher = Watcher(send=send)
    serving = asyncio.ensure_future(feed.serve(watcher))
    try:
        async with asyncio.timeout(5):
            await done.wait()
    finally:
        watcher.closed.set()
        await serving


async def test_a_burst_of_events_is_one_picture_with_all_of_them():
    live = LiveState(clock=lambda: 1000.0)
    feed = QueueFeed(live, connected=lambda: True, heartbeat_seconds=60, clock=lambda: 1000.0)
    received: list[dict] = []

    async def burst() -> None:
        while not received:  # the picture at connection is on screen
            await asyncio.sleep(0)
        for n, at in ((1, 990.0), (2, 995.0)):
            live.handle(join(f"c{n}", at))  # as the AMI listener does: state first
            feed.on_event(join(f"c{n}", at))

    await asyncio.gather(watching(feed, received, until=2), burst())
    first, second = received
    assert first["queues"] == []  # the picture at connection
    [support] = second["queues"]
    assert [c["joined_at"] for c in support["callers"]] == [990.0, 995.0]
    assert (second["at"], second["asterisk"], second["type"]) == (1000.0, True, "queues")


async def test_a_quiet_feed_still_sends_a_picture_every_heartbeat():
    feed = QueueFeed(LiveState(), connected=lambda: False, heartbeat_seconds=0.05)
    received: list[dict] = []
    await watching(feed, received, until=3)
    assert all(p["asterisk"] is False for p in received)


async def test_a_slow_screen_gets_only_the_newest_picture():
    live = LiveState(clock=lambda: 1000.0)
    feed = QueueFeed(live, connected=lambda: True, heartbeat_seconds=60)
    gate, sending = asyncio.Event(), asyncio.Event()
    received: list[dict] = []

    async def slow_send(text: str) -> None:
        received.append(json.loads(text))
        sending.set()
        await gate.wait()  # the browser is slow to take the first picture

    watcher = Watcher(send=slow_send)
    serving = asyncio.ensure_future(feed.serve(watcher))
    await sending.wait()
    for n in range(5):
        live.handle(join(f"c{n}", 990.0 + n))
        feed.publish()
    gate.set()
    async with asyncio.timeout(5):
        while len(received) < 2:
            await asyncio.sleep(0.01)
    watcher.closed.set()
    await serving
    assert len(received) == 2
    [support] = received[1]["queues"]
    assert len(support["callers"]) == 5


def member(interface: str, name: str, **fields: str) -> dict[str, str]:
    return {"Event": "QueueMemberAdded", "Queue": "support", "Interface": interface,
            "MemberName": name, "Paused": "0", "Timestamp": "900", **fields}


async def test_a_screen_gets_every_agent_first_then_only_those_that_changed():
    live = LiveState(clock=lambda: 1000.0)
    feed = QueueFeed(live, connected=lambda: True, heartbeat_seconds=60, clock=lambda: 1000.0)
    for n in range(3):
        live.handle(member(f"PJSIP/{n}", f"A{n}"))
    received: list[dict] = []

    async def changes() -> None:
        while not received:
            await asyncio.sleep(0)
        event = {"Event": "QueueMemberPause", "Queue": "support", "Interface": "PJSIP/1",
                 "MemberName": "A1", "Paused": "1", "PausedReason": "lunch", "Timestamp": "950"}
        live.handle(event)
        feed.on_event(event)
        while len(received) < 2:
            await asyncio.sleep(0)
        event = {"Event": "QueueMemberRemoved", "Queue": "support", "Interface": "PJSIP/2"}
        live.handle(event)
        feed.on_event(event)

    await asyncio.gather(watching(feed, received, until=3), changes())
    first, paused, removed = received
    assert first["full"] and sorted(first["members"]) == ["PJSIP/0", "PJSIP/1", "PJSIP/2"]
    assert first["members"]["PJSIP/0"]["queues"] == ["support"]
    assert not paused["full"] and list(paused["members"]) == ["PJSIP/1"]
    assert (paused["members"]["PJSIP/1"]["paused_reason"],
            paused["members"]["PJSIP/1"]["state_since"]) == ("lunch", 950.0)
    assert removed["members"] == {} and removed["gone"] == ["PJSIP/2"]


async def test_a_wall_display_sees_callers_numbers_masked():
    live = LiveState(clock=lambda: 1000.0)
    feed = QueueFeed(live, connected=lambda: True)
    live.handle(join("c1", 990.0))
    wall = feed.picture("display")["queues"][0]["callers"][0]
    assert wall["number"].endswith("0001") and "+7916" not in wall["number"]
    assert feed.picture()["queues"][0]["callers"][0]["number"] == "+79160000001"
