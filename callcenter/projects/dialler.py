"""The dialler's adapter: Originate through the AMI client, results from AMI events.

Progressive: a free agent (logged in to a queue, not paused, not on a call or ringing, not in
a project call's wrap-up) gets exactly one call at a time: the customer's line is originated
and, on answer, the dialplan (callcenter-dialler) dials that agent. Preview: the agent's own
phone rings first (as click-to-call), so nobody ever answers to silence either way.

The clock is injectable: retries and calling hours follow `clock()`, which tests move.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ami.client import AMIClient
from callcenter.ami.protocol import Message
from callcenter.calls.clicktocall import OUTBOUND_CONTEXT
from callcenter.ledger.derive import DIALLER_LINKEDID_PREFIX
from callcenter.projects import core, service
from callcenter.projects.models import Project, ProjectAgent, ProjectEntry
from callcenter.queues.live import LiveState
from callcenter.users.models import User

log = logging.getLogger(__name__)
EVENTS = frozenset({"OriginateResponse", "Hangup", "VarSet", "QueueMemberPause",
                    "QueueMemberAdded", "QueueMemberRemoved", "QueueMemberStatus"})
DIAL_STATUS = {"ANSWER": "answered", "BUSY": "busy", "NOANSWER": "no_answer",
               "CONGESTION": "congestion", "CHANUNAVAIL": "failed", "CANCEL": "no_answer",
               "INVALIDARGS": "invalid"}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Placed:
    """A call the dialler placed and has not seen end yet."""

    linkedid: str
    agent: str
    mode: str
    placed_at: float  # monotonic
    channel: str = ""  # what was originated: Originate's answer names it (not our ids)
    reason: int | None = None
    dial_status: str | None = None
    answered_at: datetime | None = None
    hangup_cause: int | None = None
    hung_up: bool = False
    hung_up_at: float = 0.0
    twin_cause: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Dialler:
    def __init__(self, ami: AMIClient, sessions: async_sessionmaker[AsyncSession],
                 live: LiveState, *, channel: str, agent_ring_seconds: int = 15,
                 tick_seconds: float = 1.0, clock: Callable[[], datetime] = utc_now) -> None:
        self.ami = ami
        self.sessions = sessions
        self.live = live
        self.channel = channel
        self.agent_ring_seconds = agent_ring_seconds
        self.tick_seconds = tick_seconds
        self.clock = clock
        self.placed: dict[str, Placed] = {}  # by linkedid
        self._wake = asyncio.Event()
        self._finishing: set[asyncio.Task[None]] = set()
        self.calls_placed = 0
        # when each agent was last seen free (monotonic): the bench measures free -> ringing
        self.freed_at: dict[str, float] = {}
        # the last calls' results and how they were reached (diagnosis: /health, tests)
        self.history: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=500)

    # --- events -------------------------------------------------------------------------

    def on_event(self, event: Message) -> None:
        """AMI events: results of our calls; any agent state change wakes the pacer."""
        kind = event.get("Event")
        if kind in ("QueueMemberPause", "QueueMemberAdded", "QueueMemberStatus",
                    "QueueMemberRemoved"):
            self._wake.set()
            return
        linkedid = event.get("Linkedid") or event.get("Uniqueid") or ""
        placed = self.placed.get(linkedid)
        if placed is None and kind == "OriginateResponse":
            # a channel that never came up has no ids in the answer: its name says which
            channel = event.get("Channel") or ""
            placed = self.placed.get(event.get("Uniqueid") or "") or next(
                (p for p in self.placed.values() if p.reason is None and p.channel
                 and (channel == p.channel or channel.startswith(p.channel + "-"))), None)
        if placed is None:
            return
        if kind == "OriginateResponse":
            placed.reason = int(event.get("Reason") or 0)
            if placed.reason != 4 or placed.hung_up:  # over: not answered, or already gone
                self._finish(placed, cause=placed.hangup_cause, how="originate")
        elif kind == "VarSet" and event.get("Variable") == "DIALSTATUS":
            placed.dial_status = event.get("Value") or None
            if placed.dial_status == "ANSWER" and placed.answered_at is None:
                placed.answered_at = self.clock()
        elif kind == "Hangup" and event.get("Uniqueid") == f"{placed.linkedid}-2":
            # a Local channel's other half: its cause is the callee's (17 busy, ...)
            placed.twin_cause = int(event.get("Cause") or 0) or None
        elif kind == "Hangup" and event.get("Uniqueid") == placed.linkedid:
            placed.hangup_cause = int(event.get("Cause") or 0) or None
            placed.hung_up, placed.hung_up_at = True, time.monotonic()
            if placed.reason is None and placed.dial_status is not None:
                # the dialplan only dials on after the first channel answered
                placed.reason = 4
            # a channel that never answered can hang up before Originate's answer arrives:
            # the result is that answer's Reason, so it is awaited
            if placed.reason is not None:
                self._finish(placed, cause=placed.hangup_cause, how="hangup")

    def result_of(self, placed: Placed, cause: int | None) -> str:
        """Progressive: the customer's line (Originate's Reason), then whether the agent
        took the call. Preview: the agent's phone answered; the customer's Dial says."""
        if placed.mode == "progressive":
            if placed.reason != 4:
                return core.classify(placed.reason, cause if placed.reason is None else None)
            return "answered" if placed.dial_status == "ANSWER" else "abandoned"
        if placed.reason is not None and placed.reason != 4:
            return "failed"  # the agent's own phone did not answer: the customer was not dialled
        if placed.dial_status is None:
            return "failed"
        return DIAL_STATUS.get(placed.dial_status, "failed")

    def _finish(self, placed: Placed, cause: int | None, how: str = "") -> None:
        if self.placed.pop(placed.linkedid, None) is None:
            return
        result = self.result_of(placed, cause)
        self.history.append((placed.linkedid, result, f"{how} reason={placed.reason} "
                             f"dial={placed.dial_status} cause={cause}"))
        task = asyncio.create_task(self._record(placed, result))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _record(self, placed: Placed, result: str) -> None:
        try:
            async with self.sessions() as session:
                await service.finish_attempt(session, placed.linkedid, result=result,
                                             now=self.clock(), answered_at=placed.answered_at)
                await session.commit()
            log.info("dialler attempt ended", extra={"linkedid": placed.linkedid,
                                                     "result": result, "agent": placed.agent})
        except Exception as exc:
            log.error("dialler attempt not recorded", extra={"linkedid": placed.linkedid,
                                                             "error": repr(exc)})
        finally:
            placed.done.set()
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def idle(self) -> None:
        """Until every attempt's result is written (tests, shutdown)."""
        while self._finishing:
            await asyncio.gather(*list(self._finishing), return_exceptions=True)

    # --- pacing ---------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log.error("dialler tick failed", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_seconds)
            self._wake.clear()

    def _busy_agents(self) -> set[str]:
        return {p.agent for p in self.placed.values()}

    def logged_in_free(self, interfaces: dict[str, str]) -> list[str]:
        """Agents (by name) logged in to a queue, not paused, not ringing, not on a call."""
        free = []
        for agent, interface in interfaces.items():
            member = self.live.members.get(interface)
            if (member is not None and member.queues and not member.paused
                    and member.ringing_for is None and member.on_call is None):
                free.append(agent)
        return free

    def _overdue(self, grace: float = 10.0) -> None:
        """A call that hung up and whose Originate answer never came: judged by the cause."""
        mono = time.monotonic()
        for placed in list(self.placed.values()):
            if placed.hung_up and placed.reason is None and mono - placed.hung_up_at > grace:
                self._finish(placed, cause=placed.hangup_cause or placed.twin_cause,
                             how="overdue")

    async def tick(self) -> int:
        """One pacing round: returns how many calls it placed."""
        self._overdue()
        if not self.ami.connected.is_set():
            return 0
        now = self.clock()
        async with self.sessions() as session:
            await service.expire_wrapups(session, now)
            await service.expire_lost(session, now, keep=set(self.placed))
            rows = (await session.execute(
                select(ProjectAgent.agent, Project.priority, Project.id, User.interface)
                .join(Project, Project.id == ProjectAgent.project_id)
                .join(User, User.agent_name == ProjectAgent.agent)
                .where(Project.status == "running", Project.mode == "progressive",
                       User.interface.is_not(None)))).all()
            await session.commit()
            if not rows:
                return 0
            interfaces = {agent: interface for agent, _p, _i, interface in rows}
            projects_of: dict[str, list[tuple[int, int]]] = {}
            for agent, priority, project_id, _iface in rows:
                projects_of.setdefault(agent, []).append((priority, project_id))
            candidates = set(self.logged_in_free(interfaces)) - self._busy_agents()
            candidates -= await service.in_wrapup(session, candidates, now)
            mono = time.monotonic()
            for agent in candidates:
                self.freed_at.setdefault(agent, mono)
            placed = 0
            empty: set[int] = set()
            while True:
                assignments = core.plan(candidates, projects_of, frozenset(empty))
                if not assignments:
                    break
                agent, project_id = assignments[0]
                project = await service.get_project(session, project_id)
                entry = await service.claim_next(session, project, now)
                if entry is None:
                    await session.commit()
                    empty.add(project_id)
                    continue
                candidates.discard(agent)
                linkedid = f"{DIALLER_LINKEDID_PREFIX}{uuid.uuid4().hex[:16]}"
                await service.start_attempt(session, entry, linkedid=linkedid, agent=agent,
                                            mode="progressive", now=now)
                await session.commit()
                await self._originate_progressive(project, entry, agent, interfaces[agent],
                                                  linkedid)
                placed += 1
            return placed

    async def _originate_progressive(self, project: Project, entry: ProjectEntry, agent: str,
                                     interface: str, linkedid: str) -> None:
        channel = self.channel.format(number=entry.phone.lstrip("+"))
        self.placed[linkedid] = Placed(linkedid, agent, "progressive", time.monotonic(),
                                       channel=channel)
        self.freed_at.pop(agent, None)
        variables = [f"CC_AGENT={agent}", f"CC_DIALLER_AGENT={interface}",
                     f"CC_AGENT_RING={self.agent_ring_seconds}",
                     f"CC_PROJECT={project.id}"]
        fields: dict[str, object] = {
            "Action": "Originate",
            "Channel": channel,
            "Context": "callcenter-dialler", "Exten": entry.phone.lstrip("+"), "Priority": 1,
            "Timeout": project.ring_seconds * 1000,
            "ChannelId": linkedid, "OtherChannelId": f"{linkedid}-2",
            "Variable": variables, "Async": "true",
        }
        if project.caller_id:
            fields["CallerID"] = f"<{project.caller_id}>"
        await self._send(fields, linkedid)
        self.calls_placed += 1

    async def _send(self, fields: dict[str, object], linkedid: str) -> None:
        try:
            response = await self.ami.action(fields)
            if response.get("Event") == "OriginateResponse":
                # The call's outcome came before Asterisk's "queued" acknowledgement: the AMI
                # client took the event (it carries ActionID and Response) for the action's
                # answer, so no subscriber saw it. It is this call's result all the same.
                self.on_event(response)
        except Exception as exc:  # refused or AMI gone: the attempt failed, the agent is free
            log.warning("dialler originate refused", extra={"linkedid": linkedid,
                                                            "error": repr(exc)})
            placed = self.placed.get(linkedid)
            if placed is not None:
                placed.reason = 0
                self._finish(placed, cause=None, how=f"refused {exc!r}"[:200])

    async def call_preview(self, session: AsyncSession, project: Project, entry: ProjectEntry,
                           *, agent: str, interface: str) -> str:
        """The agent pressed Call on their card: their phone rings, then the customer's.
        Commits the attempt before dialling."""
        now = self.clock()
        rules = service.rules_of(project)
        why = core.may_dial(now=now, zones=service.zones_of(entry), hours=rules.hours,
                            attempts=entry.attempts, max_attempts=rules.max_attempts,
                            on_dnc=await service.on_dnc(session, project.id, entry.phone))
        if why is not None:
            raise service.Conflict(f"this number may not be dialled now: {why}")
        linkedid = f"pv-{uuid.uuid4().hex[:16]}"
        await service.start_attempt(session, entry, linkedid=linkedid, agent=agent,
                                    mode="preview", now=now)
        await session.commit()
        self.placed[linkedid] = Placed(linkedid, agent, "preview", time.monotonic(),
                                       channel=interface)
        variables = [f"CC_AGENT={agent}", f"CC_PROJECT={project.id}"]
        if project.caller_id:
            variables.append(f"CC_OUTBOUND_CALLERID={project.caller_id}")
        await self._send({
            "Action": "Originate", "Channel": interface, "Context": OUTBOUND_CONTEXT,
            "Exten": entry.phone.lstrip("+"), "Priority": 1,
            "CallerID": f'"{entry.phone}" <{entry.phone}>',
            "Timeout": project.ring_seconds * 1000, "ChannelId": linkedid,
            "OtherChannelId": f"{linkedid}-2", "Variable": variables, "Async": "true",
        }, linkedid)
        return linkedid
