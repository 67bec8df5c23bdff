"""Pushes screen pops and call progress to agents' browsers the moment Asterisk rings them.

Each connection has its own bounded outbox and sender task: a slow browser is dropped when its
outbox fills, never slowing the others. With a ring-all queue every ringing agent gets the pop;
when one answers the others are told, so no stale pop stays on screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ami.protocol import Message
from callcenter.contacts.access import audit_card_read
from callcenter.contacts.screenpop import PopData, PopReader, Reader, load_pop
from callcenter.phone import to_e164
from callcenter.queues.live import LiveState

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
# A message, or one still being made (a screen pop reading the database): queued in order,
# so "connected" can never overtake the pop of the same ring.
Outgoing = dict[str, Any] | asyncio.Future[dict[str, Any]]
_DIAL_PROGRESS = {"5": "agent_ringing", "6": "agent_answered"}
# what pops and click-to-call progress are made of
# An agent's queue membership or pause changed (by them, a supervisor or the PBX): their
# desktop is told, and reads its new state (GET /agents/me), already applied by then.
MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause"})
# a caller joined or left a queue: its members' desktops are told how many wait now
WAITING_EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"})
EVENTS = frozenset({"AgentCalled", "AgentConnect", "AgentRingNoAnswer", "QueueCallerAbandon",
                    "Hangup", "AgentComplete", "Newstate", "DialBegin", "DialEnd",
                    "OriginateResponse", *MEMBER_EVENTS})


@dataclass(eq=False)
class Subscriber:
    interface: str
    agent_name: str | None
    role: str
    send: Send
    username: str | None = None  # whose card reads are audited
    outbox: asyncio.Queue[Outgoing] = field(default_factory=lambda: asyncio.Queue(maxsize=200))
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class ScreenPopHub:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], region: str) -> None:
        self._sessions = sessions
        self._region = region
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._ringing: dict[str, set[str]] = {}  # linkedid -> interfaces rung for it
        self._click_to_call: dict[str, str] = {}  # call id -> agent interface
        # interface -> {linkedid: customer number}: whose cards its agent may read right now
        self._engaged: dict[str, dict[str, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.pops_sent = 0  # screen pops delivered to a browser
        self.dropped = 0  # messages lost because a browser fell behind (it is disconnected)
        # on PostgreSQL the service sets its one-statement reader (contacts.screenpop)
        self.reader: PopReader | None = None

    # -- connections -------------------------------------------------------------------------

    async def serve(self, subscriber: Subscriber) -> None:
        """Sends one connection's messages until it closes or falls behind (then it is
        dropped: its sender is cancelled, whatever it was waiting for)."""
        self._subscribers.setdefault(subscriber.interface, set()).add(subscriber)
        sender = asyncio.ensure_future(self._send_all(subscriber))
        closed = asyncio.ensure_future(subscriber.closed.wait())
        try:
            await asyncio.wait({sender, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._subscribers.get(subscriber.interface, set()).discard(subscriber)
            for task in (sender, closed):
                task.cancel()
            await asyncio.gather(sender, closed, return_exceptions=True)

    async def _send_all(self, subscriber: Subscriber) -> None:
        while True:
            message = await subscriber.outbox.get()
            if isinstance(message, asyncio.Future):
                message = await message
            await subscriber.send(message)
            if message.get("type") == "ring":
                self.pops_sent += 1

    def connected(self, interface: str) -> int:
        return len(self._subscribers.get(interface, ()))

    def numbers_on_call(self, interface: str | None) -> set[str]:
        """The customers (E.164) ringing or talking to this agent interface now."""
        if not interface:
            return set()
        return {e164 for raw in self._engaged.get(interface, {}).values()
                if (e164 := to_e164(raw, self._region))}

    def _engage(self, interface: str, linkedid: str, number: str) -> None:
        if number:
            self._engaged.setdefault(interface, {})[linkedid] = number

    def _release(self, interface: str, linkedid: str) -> None:
        calls = self._engaged.get(interface)
        if calls is not None:
            calls.pop(linkedid, None)
            if not calls:
                del self._engaged[interface]
    @property
    def clients(self) -> int:
        """Open agent WebSockets."""
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    def _push(self, interface: str, message: Outgoing) -> None:
        for subscriber in list(self._subscribers.get(interface, ())):
            try:
                subscriber.outbox.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("screen-pop client too slow; disconnected",
                            extra={"agent": subscriber.agent_name})
                self.dropped += 1
                subscriber.closed.set()

    # -- events ------------------------------------------------------------------------------

    def track_click_to_call(self, call_id: str, interface: str, number: str = "") -> None:
        self._click_to_call[call_id] = interface
        self._engage(interface, call_id, number)

    def on_event(self, event: Message) -> None:
        """Subscribed to EVENTS only."""
        name = event.get("Event")
        linkedid = event.get("Linkedid", "")
        if name == "AgentCalled":
            interface = event.get("Interface", "")
            self._ringing.setdefault(linkedid, set()).add(interface)
            self._engage(interface, linkedid, event.get("CallerIDNum", ""))
            if self._subscribers.get(interface):
                self._ring(interface, event)
        elif name == "AgentConnect":
            interface = event.get("Interface", "")
            self._push(interface, {"type": "connected", "linkedid": linkedid})
            for other in self._ringing.pop(linkedid, set()) - {interface}:
                self._release(other, linkedid)
                self._push(other, {"type": "answered_elsewhere", "linkedid": linkedid,
                                   "by": event.get("MemberName")})
        elif name == "AgentRingNoAnswer":
            interface = event.get("Interface", "")
            self._ringing.get(linkedid, set()).discard(interface)
            self._release(interface, linkedid)
            self._push(interface, {"type": "ring_stopped", "linkedid": linkedid,
                                   "reason": "not answered"})
        elif name == "QueueCallerAbandon" or (
                name == "Hangup" and event.get("Uniqueid") == linkedid):
            for interface in self._ringing.pop(linkedid, set()):
                self._push(interface, {"type": "ring_stopped", "linkedid": linkedid,
                                       "reason": "caller hung up"})
            for interface in [i for i, calls in self._engaged.items() if linkedid in calls]:
                self._release(interface, linkedid)  # the call is over, whoever had it
        elif name in MEMBER_EVENTS:
            self._push(event.get("Interface", ""), {"type": "state_changed",
                                                    "queue": event.get("Queue")})
        elif name == "AgentComplete":
            self._release(event.get("Interface", ""), linkedid)
            self._push(event.get("Interface", ""), {"type": "hangup", "linkedid": linkedid,
                                                    "reason": event.get("Reason")})
        if linkedid in self._click_to_call:
            self._click_to_call_progress(linkedid, event)

    def waiting_changed(self, event: Message, live: LiveState) -> None:
        """Pushes how many callers wait in the event's queue, and since when the longest has
        (server time), to that queue's members (the desktop's today panel). `live` has applied
        the event already (the AMI listener updates it before its subscribers)."""
        queue = event.get("Queue", "")
        state = live.queues.get(queue)
        joined = [c.joined_at for c in state.callers.values()] if state else []
        message = {"type": "waiting", "queue": queue, "waiting": len(joined),
                   "longest_joined_at": min(joined) if joined else None}
        for interface, member in live.members.items():
            if queue in member.queues and interface in self._subscribers:
                self._push(interface, message)

    def _click_to_call_progress(self, call_id: str, event: Message) -> None:
        interface = self._click_to_call[call_id]
        name = event.get("Event")
        status: dict[str, Any] | None = None
        if name == "Newstate" and event.get("Uniqueid") == call_id:
            state = _DIAL_PROGRESS.get(event.get("ChannelState", ""))
            status = {"state": state} if state else None
        elif name == "DialBegin":
            status = {"state": "customer_ringing"}
        elif name == "DialEnd":
            answered = event.get("DialStatus") == "ANSWER"
            status = {"state": "connected"} if answered else {
                "state": "failed", "reason": event.get("DialStatus", "").lower()}
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            status = {"state": "failed", "reason": f"agent phone: {event.get('Reason')}"}
        elif name == "Hangup" and event.get("Uniqueid") == call_id:
            status = {"state": "ended"}
            self._release(interface, call_id)
            self._click_to_call.pop(call_id, None)
        if status is not None:
            self._push(interface, {"type": "click_to_call", "call_id": call_id, **status})

    def _ring(self, interface: str, event: Message) -> None:
        """Queues each connection's pop at once (in order); the card is read meanwhile."""
        data = asyncio.ensure_future(self._pop_data(event.get("CallerIDNum", "")))
        subscribers = list(self._subscribers.get(interface, ()))
        for subscriber in subscribers:
            shaped = asyncio.ensure_future(self._shape(data, subscriber, event))
            try:
                subscriber.outbox.put_nowait(shaped)
            except asyncio.QueueFull:
                shaped.cancel()
                self.dropped += 1
                subscriber.closed.set()
        audit = asyncio.ensure_future(self._audit_ring(data, subscribers))
        self._tasks.add(audit)
        audit.add_done_callback(self._tasks.discard)

    async def _audit_ring(self, data: asyncio.Future[PopData],
                          subscribers: list[Subscriber]) -> None:
        """Every card an agent is shown is audited; written beside the pop, never before it."""
        pop = await asyncio.shield(data)
        readers = {s.username for s in subscribers if s.role == "agent" and s.username}
        if pop.contact is None or not readers:
            return
        try:
            async with self._sessions() as session:
                for username in sorted(readers):
                    audit_card_read(session, username=username, contact_id=pop.contact.id,
                                    via="ring")
                await session.commit()
        except Exception as exc:
            log.error("card reads on ring not audited: database unavailable",
                      extra={"error": repr(exc), "contact_id": pop.contact.id})

    async def _pop_data(self, number: str) -> PopData:
        try:
            if self.reader is not None:  # the agents rung are on the call: audited below
                return await self.reader.read(number, Reader(username="ring"))
            async with self._sessions() as session:
                return await load_pop(session, number, self._region)
        except Exception as exc:
            log.warning("screen pop without data: database unavailable",
                        extra={"error": repr(exc)})
            return PopData(None, number, None, [], [], {})

    @staticmethod
    async def _shape(data: asyncio.Future[PopData], subscriber: Subscriber,
                     event: Message) -> dict[str, Any]:
        pop = await asyncio.shield(data)
        return {"type": "ring", "linkedid": event.get("Linkedid"), "queue": event.get("Queue"),
                "screenpop": pop.for_viewer(subscriber.role, subscriber.agent_name)}
