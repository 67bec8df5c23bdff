"""The supervisors' live feed: one picture per burst of events, the newest for a slow screen,
a heartbeat when nothing changes."""

from __future__ import annotations

import asyncio

from callcenter.queues.feed import QueueFeed, Watcher
from callcenter.queues.live import LiveState


def join(uniqueid: str, at: float) -> dict[str, str]:
    return {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": uniqueid,
            "Linkedid": uniqueid, "CallerIDNum": "+79160000001", "Timestamp": str(at)}


async def watching(feed: QueueFeed, received: list[dict], until: int) -> None:
    done = asyncio.Event()

    async def send(picture: dict) -> None:
        received.append(picture)
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
    assert [c["wait_seconds"] for c in support["callers"]] == [10.0, 5.0]
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

    async def slow_send(picture: dict) -> None:
        received.append(picture)
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
