"""The live picture of queues and agents, kept from AMI events: pure logic, no I/O.

Seeded from QueueStatus on every (re)connect, so it is right again after a disconnect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

Event = dict[str, str]


@dataclass
class WaitingCaller:
    linkedid: str
    uniqueid: str
    number: str
    name: str
    joined_at: float


@dataclass
class Member:
    interface: str
    name: str
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    paused_reason: str | None = None
    ringing_for: str | None = None  # linkedid
    on_call: str | None = None  # linkedid
    talking_to: str | None = None  # the caller's number
    talking_to_name: str | None = None
    channel: str | None = None  # the agent's channel on the current call (listen/whisper)
    idle_since: float | None = None
    calls_taken: int = 0
    state_since: float | None = None  # when it last changed state (None: not known)


@dataclass
class LiveQueue:
    name: str
    callers: dict[str, WaitingCaller] = field(default_factory=dict)  # by uniqueid, join order


class LiveState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.queues: dict[str, LiveQueue] = {}
        self.members: dict[str, Member] = {}

    def _queue(self, name: str) -> LiveQueue:
        if name not in self.queues:
            self.queues[name] = LiveQueue(name)
        return self.queues[name]

    def _member(self, event: Event) -> Member:
        interface = event.get("Interface") or event.get("Location") or ""
        member = self.members.get(interface)
        if member is None:
            member = self.members[interface] = Member(
                interface, event.get("MemberName") or event.get("Name") or interface)
        return member

    def load_status(self, items: list[Event]) -> None:
        """Replaces everything with a QueueStatus answer."""
        now = self._clock()
        self.queues.clear()
        self.members.clear()
        for item in items:
            kind, queue = item.get("Event"), item.get("Queue", "")
            if kind == "QueueParams":
                self._queue(queue)
            elif kind == "QueueMember":
                member = self._member(item)
                member.queues.add(queue)
                self._queue(queue)
                member.paused = item.get("Paused") == "1"
                member.paused_reason = item.get("PausedReason") or None
                member.calls_taken = int(item.get("CallsTaken") or 0)
                last = float(item.get("LastCall") or 0)
                member.idle_since = last or None
                last_pause = float(item.get("LastPause") or 0)
                member.state_since = (last_pause if member.paused else last) or None
            elif kind == "QueueEntry":
                self._queue(queue).callers[item.get("Uniqueid", "")] = WaitingCaller(
                    linkedid=item.get("Linkedid") or item.get("Uniqueid", ""),
                    uniqueid=item.get("Uniqueid", ""), number=item.get("CallerIDNum", ""),
                    name=item.get("CallerIDName", ""),
                    joined_at=now - float(item.get("Wait") or 0))

    def handle(self, event: Event) -> None:
        handler = self._HANDLERS.get(event.get("Event", ""))
        if handler is not None:
            stamp = event.get("Timestamp")
            handler(self, event, float(stamp) if stamp else self._clock())

    def _caller_join(self, event: Event, ts: float) -> None:
        self._queue(event.get("Queue", "")).callers[event.get("Uniqueid", "")] = WaitingCaller(
            linkedid=event.get("Linkedid", ""), uniqueid=event.get("Uniqueid", ""),
            number=event.get("CallerIDNum", ""), name=event.get("CallerIDName", ""),
            joined_at=ts)

    def _caller_leave(self, event: Event, ts: float) -> None:
        self._queue(event.get("Queue", "")).callers.pop(event.get("Uniqueid", ""), None)

    def _member_added(self, event: Event, ts: float) -> None:
        queue = event.get("Queue", "")
        member = self._member(event)
        member.queues.add(queue)
        self._queue(queue)
        member.paused = event.get("Paused") == "1"
        member.paused_reason = event.get("PausedReason") or None
        member.idle_since = member.idle_since or ts
        member.state_since = member.state_since or ts

    def _member_removed(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.queues.discard(event.get("Queue", ""))
        if not member.queues:
            del self.members[member.interface]

    def _member_pause(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.state_since = ts
        member.paused = event.get("Paused") == "1"
        member.paused_reason = (event.get("PausedReason") or None) if member.paused else None

    def _member_status(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.calls_taken = int(event.get("CallsTaken") or member.calls_taken)

    def _agent_called(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.ringing_for = event.get("Linkedid")
        member.state_since = ts

    def _agent_ring_no_answer(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.ringing_for = None
        member.state_since = ts

    def _agent_connect(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.state_since = ts
        member.ringing_for = None
        member.on_call = event.get("Linkedid")
        member.talking_to = event.get("CallerIDNum")
        member.talking_to_name = event.get("CallerIDName") or None
        member.channel = event.get("DestChannel") or None

    def _agent_complete(self, event: Event, ts: float) -> None:
        member = self._member(event)
        member.on_call = member.talking_to = member.talking_to_name = member.channel = None
        member.idle_since = member.state_since = ts

    _HANDLERS: ClassVar[dict[str, Callable[[LiveState, Event, float], None]]] = {
        "QueueCallerJoin": _caller_join,
        "QueueCallerLeave": _caller_leave,
        "QueueCallerAbandon": _caller_leave,
        "QueueMemberAdded": _member_added,
        "QueueMemberRemoved": _member_removed,
        "QueueMemberPause": _member_pause,
        "QueueMemberStatus": _member_status,
        "AgentCalled": _agent_called,
        "AgentRingNoAnswer": _agent_ring_no_answer,
        "AgentConnect": _agent_connect,
        "AgentComplete": _agent_complete,
    }

    def snapshot(self) -> list[dict[str, Any]]:
        now = self._clock()
        out = []
        for name in sorted(self.queues):
            callers = list(self.queues[name].callers.values())
            members = [m for m in self.members.values() if name in m.queues]
            out.append({
                "queue": name,
                "callers": [{"position": i, "linkedid": c.linkedid, "number": c.number,
                             "name": c.name, "wait_seconds": round(now - c.joined_at, 1)}
                            for i, c in enumerate(callers, start=1)],
                "longest_wait": round(max((now - c.joined_at for c in callers), default=0), 1),
                "members": [{
                    "name": m.name, "interface": m.interface, "paused": m.paused,
                    "paused_reason": m.paused_reason, "ringing": m.ringing_for is not None,
                    "on_call": m.on_call, "talking_to": m.talking_to,
                    "talking_to_name": m.talking_to_name,
                    "idle_seconds": round(now - m.idle_since, 1)
                    if m.idle_since and not m.on_call else None,
                    "calls_taken": m.calls_taken,
                    "state_seconds": round(now - m.state_since, 1) if m.state_since else None}
                    for m in sorted(members, key=lambda m: m.name)],
            })
        return out


LIVE_EVENTS = frozenset(LiveState._HANDLERS)
