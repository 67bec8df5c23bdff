"""Pushes the live queue picture to supervisors' screens the moment AMI events change it.

Events come in bursts (a call joining a queue rings several agents at once), so a change
only marks the picture dirty and one snapshot goes out on the next loop turn, after every
event of the burst was applied. Each screen has a one-slot outbox that always holds the
newest picture: a slow screen skips pictures, never slowing the others or the AMI reader.

Two kinds of screen watch: supervisors (everything, with today's figures and the abandoned
calls) and wall displays (the TV wallboard: no abandoned list, callers' numbers and names
masked through the data policy as an agent would see them: a wall is seen by anyone).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from callcenter.ami.protocol import Message
from callcenter.policy import NAME, PHONE, Viewer, show
from callcenter.queues.live import LIVE_EVENTS, LiveState

if TYPE_CHECKING:
    from callcenter.queues.board import TodayBoard

Send = Callable[[dict[str, Any]], Awaitable[None]]
EVENTS = LIVE_EVENTS
Kind = Literal["supervisor", "display"]
_WALL = Viewer("agent")  # a wall display shows what any agent may see


@dataclass(eq=False)
class Watcher:
    send: Send
    kind: Kind = "supervisor"
    display_id: int | None = None  # a wall display's token
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
        self.board: TodayBoard | None = None  # today's figures, when the service has them

    @property
    def clients(self) -> int:
        return len(self._watchers)

    def close_display(self, display_id: int) -> None:
        """A revoked display token: its screens are closed now."""
        for watcher in self._watchers:
            if watcher.display_id == display_id:
                watcher.closed.set()

    def picture(self, kind: Kind = "supervisor") -> dict[str, Any]:
        """What a screen shows: `at` is the server's time of the snapshot, from which the
        browser computes every timer (never from its own ticks); `figures_at` is when today's
        figures were read from the records."""
        queues = self._live.snapshot()
        picture: dict[str, Any] = {"type": "queues", "at": self._clock(),
                                   "asterisk": self._connected(), "queues": queues}
        board = self.board
        if board is not None:
            names = [q["queue"] for q in queues]
            picture["figures_at"] = board.at
            picture["targets"] = board.targets_for(names)
            picture["today"] = {q: board.queues.get(q) for q in sorted(set(names) |
                                                                         set(board.queues))}
            for queue in queues:
                for member in queue["members"]:
                    member["username"] = board.usernames.get(member["interface"])
                    member["today"] = board.agents.get(member["name"])
            if kind == "supervisor":
                picture["abandoned"] = board.abandoned
                picture["pause_reasons"] = board.pause_reasons
        if kind == "display":
            for queue in queues:
                for caller in queue["callers"]:
                    caller["number"] = show(caller["number"], PHONE, _WALL)
                    caller["name"] = show(caller["name"], NAME, _WALL)
                for member in queue["members"]:
                    member["talking_to"] = show(member["talking_to"], PHONE, _WALL)
                    member["talking_to_name"] = show(member["talking_to_name"], NAME, _WALL)
                    member["on_call"] = "yes" if member["on_call"] else None
        return picture

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
        pictures: dict[Kind, dict[str, Any]] = {}
        for watcher in self._watchers:
            if watcher.kind not in pictures:
                pictures[watcher.kind] = self.picture(watcher.kind)
            _replace(watcher.outbox, pictures[watcher.kind])

    async def serve(self, watcher: Watcher) -> None:
        """Sends one screen its pictures (the current one first, then each change, and at
        least every heartbeat_seconds so it can tell a quiet feed from a dead one) until it
        closes."""
        self._watchers.add(watcher)
        _replace(watcher.outbox, self.picture(watcher.kind))
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
                picture = self.picture(watcher.kind)
            await watcher.send(picture)


def _replace(outbox: asyncio.Queue[dict[str, Any]], picture: dict[str, Any]) -> None:
    if outbox.full():
        outbox.get_nowait()
    outbox.put_nowait(picture)
