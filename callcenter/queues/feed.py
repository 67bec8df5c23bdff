"""Pushes the live queue picture to supervisors' screens the moment AMI events change it.

Events come in bursts (a call joining a queue rings several agents at once), so a change
only marks the picture dirty and one snapshot goes out on the next loop turn, after every
event of the burst was applied. Each screen has a one-slot outbox that always holds the
newest picture: a slow screen skips pictures, never slowing the others or the AMI reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.ami.protocol import Message
from callcenter.queues.live import LIVE_EVENTS, LiveState

Send = Callable[[dict[str, Any]], Awaitable[None]]
EVENTS = LIVE_EVENTS


@dataclass(eq=False)
class Watcher:
    send: Send
    outbox: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=1))
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class QueueFeed:
    def __init__(self, live: LiveState, connected: Callable[[], bool],
                 heartbeat_seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._live = live
        self._connected = connected  # whether the picture is current (AMI logged in)
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._watchers: set[Watcher] = set()
        self._scheduled = False

    @property
    def clients(self) -> int:
        return len(self._watchers)

    def picture(self) -> dict[str, Any]:
        """What a screen shows: `at` is the server's time of the snapshot, from which the
        browser computes every timer (never from its own ticks)."""
        return {"type": "queues", "at": self._clock(), "asterisk": self._connected(),
                "queues": self._live.snapshot()}

    def on_event(self, _event: Message) -> None:
        """Subscribed to EVENTS (after LiveState applied the event)."""
        if self._watchers and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._publish)

    def publish(self) -> None:
        """A new picture for every screen now (also on AMI connect and disconnect)."""
        self._publish()

    def _publish(self) -> None:
        self._scheduled = False
        if not self._watchers:
            return
        picture = self.picture()
        for watcher in self._watchers:
            _replace(watcher.outbox, picture)

    async def serve(self, watcher: Watcher) -> None:
        """Sends one screen its pictures (the current one first, then each change, and at
        least every heartbeat_seconds so it can tell a quiet feed from a dead one) until it
        closes."""
        self._watchers.add(watcher)
        _replace(watcher.outbox, self.picture())
        sender = asyncio.ensure_future(self._send_all(watcher))
        closed = asyncio.ensure_future(watcher.closed.wait())
        try:
            await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._watchers.discard(watcher)
            for task in (sender, closed):
                task.cancel()
            await asyncio.gather(sender, closed, return_exceptions=True)

    async def _send_all(self, watcher: Watcher) -> None:
        while True:
            try:
                picture = await asyncio.wait_for(watcher.outbox.get(), self._heartbeat)
            except TimeoutError:
                picture = self.picture()
            await watcher.send(picture)


def _replace(outbox: asyncio.Queue[dict[str, Any]], picture: dict[str, Any]) -> None:
    if outbox.full():
        outbox.get_nowait()
    outbox.put_nowait(picture)
