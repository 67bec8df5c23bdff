"""Pushes the live queue picture to supervisors' screens the moment AMI events change it.

Events come in bursts (a call joining a queue rings several agents at once), so a change
only marks the picture dirty and one picture goes out on the next loop turn, after every
event of the burst was applied. Each screen has a one-slot outbox that always holds the
newest picture: a slow screen skips pictures, never slowing the others or the AMI reader.

A center's picture lists hundreds of agents, and one event changes one or two of them: each
screen is sent the agents that changed since what *it* was last sent (all of them first, and
whenever it asks again by reconnecting), and today's figures only when they were read again.
Timers travel as server timestamps (`state_since`, `joined_at`), so an agent whose state did
not change is not re-sent. The parts every screen of a kind shares are encoded once.

Two kinds of screen watch: supervisors (everything, with today's figures and the abandoned
calls) and wall displays (the TV wallboard: no abandoned list, callers' numbers and names
masked through the data policy as an agent would see them: a wall is seen by anyone).

A message: `{"type": "queues", "at": <server epoch>, "asterisk": <bool>, "full": <bool>,
"queues": [{"queue", "callers": [{"position", "linkedid", "number", "name", "joined_at"}]}],
"members": {interface: {..., "queues": [...]}} (changed ones; all when full), "gone":
[interface...], and, when read again, "figures": {"at", "targets", "today",
["abandoned", "pause_reasons"]}}`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from callcenter.ami.protocol import Message
from callcenter.policy import NAME, PHONE, Viewer, show
from callcenter.queues.live import LIVE_EVENTS, LiveState, Member

if TYPE_CHECKING:
    from callcenter.queues.board import TodayBoard

Send = Callable[[str], Awaitable[None]]
EVENTS = LIVE_EVENTS
Kind = Literal["supervisor", "display"]
_WALL = Viewer("agent")  # a wall display shows what any agent may see
_SUPERVISOR = Viewer("supervisor")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class Watcher:
    send: Send
    kind: Kind = "supervisor"
    display_id: int | None = None  # a wall display's token
    outbox: asyncio.Queue[int] = field(default_factory=lambda: asyncio.Queue(maxsize=1))
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    # what this screen was sent: each agent's version, and the figures' time
    sent: dict[str, int] = field(default_factory=dict)
    figures: int = -1  # the version of today's figures sent


@dataclass
class _Picture:
    """One kind's current picture: member views with the version each last changed at."""

    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    head: str = ""  # the encoded shared part (queues and callers)
    at: float = 0.0
    figures: str = ""
    figures_key: tuple[float | None, tuple[str, ...]] | None = None  # (read at, queues)
    figures_version: int = 0
    deltas: dict[tuple[tuple[int, ...], tuple[str, ...]], str] = field(default_factory=dict)


class QueueFeed:
    def __init__(self, live: LiveState, connected: Callable[[], bool],
                 heartbeat_seconds: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._live = live
        self._connected = connected  # whether the picture is current (AMI logged in)
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._watchers: set[Watcher] = set()
        self._scheduled = False
        self._version = 0
        self._pictures: dict[Kind, _Picture] = {}
        self.board: TodayBoard | None = None  # today's figures, when the service has them

    @property
    def clients(self) -> int:
        return len(self._watchers)

    def close_display(self, display_id: int) -> None:
        """A revoked display token: its screens are closed now."""
        for watcher in self._watchers:
            if watcher.display_id == display_id:
                watcher.closed.set()

    def on_event(self, _event: Message) -> None:
        """Subscribed to EVENTS (after LiveState applied the event)."""
        if self._watchers and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._publish)

    def publish(self) -> None:
        """A new picture for every screen now (also on AMI connect and disconnect, and when
        today's figures were read)."""
        self._publish()

    def _publish(self) -> None:
        self._scheduled = False
        if not self._watchers:
            return
        for kind in {w.kind for w in self._watchers}:
            self._refresh(kind)
        for watcher in self._watchers:
            _replace(watcher.outbox, self._version)

    # -- the pictures ----------------------------------------------------------------------

    def _member_view(self, member: Member, kind: Kind) -> dict[str, Any]:
        """An agent as this kind of screen may see them: the caller they talk to through the
        data policy (supervisors: in full; a wall: as an agent sees another's number)."""
        board = self.board
        viewer = _WALL if kind == "display" else _SUPERVISOR
        return {
            "name": member.name, "interface": member.interface,
            "queues": sorted(member.queues), "paused": member.paused,
            "paused_reason": member.paused_reason, "ringing": member.ringing_for is not None,
            "on_call": member.on_call if kind == "supervisor" else
            ("yes" if member.on_call else None),
            "talking_to": show(member.talking_to, PHONE, viewer),
            "talking_to_name": show(member.talking_to_name, NAME, viewer),
            "state_since": member.state_since,
            "idle_since": member.idle_since if not member.on_call else None,
            "calls_taken": member.calls_taken,
            "username": board.usernames.get(member.interface)
            if board and kind == "supervisor" else None,
            "today": board.agents.get(member.name) if board else None}

    def _refresh(self, kind: Kind) -> _Picture:
        """The kind's picture now: agents whose view changed get a new version."""
        picture = self._pictures.setdefault(kind, _Picture())
        views = {}
        for interface, member in self._live.members.items():
            view = self._member_view(member, kind)
            views[interface] = view
            if picture.views.get(interface) != view:
                self._version += 1
                picture.versions[interface] = self._version
        for gone in set(picture.views) - set(views):
            picture.versions.pop(gone, None)
        picture.views = views
        picture.deltas.clear()
        picture.at = self._clock()
        queues = []
        viewer = _WALL if kind == "display" else _SUPERVISOR
        for name in sorted(self._live.queues):
            callers = list(self._live.queues[name].callers.values())
            queues.append({
                "queue": name,
                "callers": [{
                    "position": n, "linkedid": c.linkedid,
                    "number": show(c.number, PHONE, viewer),
                    "name": show(c.name, NAME, viewer),
                    "joined_at": c.joined_at} for n, c in enumerate(callers, start=1)]})
        picture.head = (f'"at":{_dumps(picture.at)},"asterisk":{_dumps(self._connected())},'
                        f'"queues":{_dumps(queues)}')
        board = self.board
        names = sorted(self._live.queues)
        if board is not None and (board.at, tuple(names)) != picture.figures_key:
            figures: dict[str, Any] = {
                "at": board.at, "targets": board.targets_for(names),
                "today": {q: board.queues.get(q) for q in sorted(set(names) | set(board.queues))}}
            if kind == "supervisor":
                figures["abandoned"] = [
                    {**a, "number": show(a["number"], PHONE, viewer),
                     "name": show(a["name"], NAME, viewer)} for a in board.abandoned]
                figures["pause_reasons"] = board.pause_reasons
            picture.figures, picture.figures_key = _dumps(figures), (board.at, tuple(names))
            picture.figures_version += 1
        return picture

    def message(self, watcher: Watcher, *, fresh: bool = False) -> str:
        """What `watcher` is sent now: the shared part, the agents changed since what it was
        sent (every agent the first time), today's figures if read again since."""
        picture = self._refresh(watcher.kind) if fresh else self._pictures.get(watcher.kind) \
            or self._refresh(watcher.kind)
        full = not watcher.sent
        changed = [i for i, v in picture.versions.items() if watcher.sent.get(i) != v]
        gone = [i for i in watcher.sent if i not in picture.versions]
        key = (tuple(sorted(picture.versions[i] for i in changed)), tuple(sorted(gone)))
        delta = picture.deltas.get(key)
        if delta is None:
            delta = (f'"members":{_dumps({i: picture.views[i] for i in changed})},'
                     f'"gone":{_dumps(gone)}')
            picture.deltas[key] = delta
        watcher.sent = dict(picture.versions)
        text = f'{{"type":"queues","full":{_dumps(full)},{picture.head},{delta}'
        if picture.figures and watcher.figures != picture.figures_version:
            text += f',"figures":{picture.figures}'
            watcher.figures = picture.figures_version
        return text + "}"

    def picture(self, kind: Kind = "supervisor") -> dict[str, Any]:
        """The whole picture as a new screen gets it (for tests and tools)."""
        return json.loads(self.message(Watcher(send=_never, kind=kind), fresh=True))

    # -- the screens -------------------------------------------------------------------------

    async def serve(self, watcher: Watcher) -> None:
        """Sends one screen its pictures (the current one first, then each change, and at
        least every heartbeat_seconds so it can tell a quiet feed from a dead one) until it
        closes."""
        self._watchers.add(watcher)
        self._refresh(watcher.kind)
        _replace(watcher.outbox, self._version)
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
                await asyncio.wait_for(watcher.outbox.get(), self._heartbeat)
                text = self.message(watcher)
            except TimeoutError:
                text = self.message(watcher, fresh=True)
            await watcher.send(text)


async def _never(_text: str) -> None:
    raise AssertionError("not a screen")


def _replace(outbox: asyncio.Queue[int], version: int) -> None:
    if outbox.full():
        outbox.get_nowait()
    outbox.put_nowait(version)
