"""From AMI events to finished call records: pure logic, no I/O, replayable from traces.

A call is everything Asterisk groups under one Linkedid. It is finished when the last of its
channels hangs up; only then is its record produced, once.

Traps in Asterisk's own data (read in its source, branch 22) this module relies on:
- QueueCallerAbandon's HoldTime is the wait in seconds, whatever its documentation says.
- AgentConnect's HoldTime and RingTime are seconds; AgentRingNoAnswer's RingTime is ms.
- Queue() reports a timeout only through QUEUESTATUS (a VarSet), and only when given one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Protocol

from callcenter.phone import to_e164

Event = dict[str, str]

# QUEUESTATUS values Queue() leaves behind, as call outcomes.
_QUEUESTATUS_OUTCOME = {
    "TIMEOUT": "timeout",
    "FULL": "busy",
    "JOINEMPTY": "no_agent",
    "LEAVEEMPTY": "no_agent",
    "JOINUNAVAIL": "no_agent",
    "LEAVEUNAVAIL": "no_agent",
}
_CAUSE_BUSY = 17
_SERVICE_VARIABLES = frozenset({"CC_CONTACT_ID", "CC_VIP", "CC_IVR_PATH", "CC_ACTION",
                                "CC_RECORDING_OPTOUT", "CC_RECORDING_CONSENT"})
# Where an inbound call ended when the IVR sent it elsewhere than a queue (CC_ACTION).
_IVR_OUTCOME = {"voicemail": "voicemail", "callback": "callback_requested", "hangup": "closed"}
_TRACKED_VARIABLES = _SERVICE_VARIABLES | {"MIXMONITOR_FILENAME", "QUEUESTATUS"}
_NOTHING: list[CallRecord | AgentStateRecord] = []  # shared; never appended to
_STATE_UP = "6"


@dataclass(frozen=True, slots=True)
class LegRecord:
    uniqueid: str
    linkedid: str
    channel: str
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    hangup_cause: int | None


@dataclass(frozen=True, slots=True)
class QueueEntryRecord:
    linkedid: str
    uniqueid: str
    queue: str
    entered_at: datetime
    left_at: datetime | None
    position: int | None
    agent: str | None
    wait_seconds: float | None
    outcome: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    linkedid: str
    direction: str
    caller: str | None
    caller_raw: str | None
    caller_name: str | None
    called: str | None
    called_raw: str | None
    started_at: datetime
    queue: str | None
    queue_entered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    agent: str | None
    agent_interface: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    outcome: str
    abandon_position: int | None
    hangup_by: str | None
    transfer_target: str | None
    end_inferred: bool
    contact_id: int | None
    vip: bool
    ivr_path: str | None
    recording_opt_out: bool
    recordings: tuple[str, ...]
    legs: tuple[LegRecord, ...]
    queue_entries: tuple[QueueEntryRecord, ...]
    source: str = "ami"  # or "ledger": derived from CEL and queue_log
    # the announce route could not learn in time whether the caller opted out of recording
    consent_unknown: bool = False


@dataclass(frozen=True, slots=True)
class AgentStateRecord:
    agent: str
    interface: str
    queue: str | None
    state: str  # login | logout | pause | unpause | ring_no_answer
    reason: str | None
    at: datetime


@dataclass(slots=True)
class _Leg:
    uniqueid: str
    channel: str
    created_at: float
    context: str
    exten: str
    callerid_num: str = ""
    callerid_name: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None


@dataclass(slots=True)
class _QueueStay:
    uniqueid: str
    queue: str
    entered_at: float
    position: int | None
    left_at: float | None = None
    agent: str | None = None
    agent_interface: str | None = None
    connected_at: float | None = None
    wait: float | None = None
    talk: float | None = None
    abandoned: bool = False
    abandon_position: int | None = None
    status: str | None = None  # QUEUESTATUS when Queue() returned
    complete_reason: str | None = None


@dataclass(slots=True)
class _Call:
    linkedid: str
    started_at: float
    legs: dict[str, _Leg] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    entry_leg: str | None = None  # the caller's channel where it entered from outside
    stays: list[_QueueStay] = field(default_factory=list)
    bridges: dict[str, set[str]] = field(default_factory=dict)
    bridged_at: float | None = None
    first_hangup: str | None = None
    recordings: list[str] = field(default_factory=list)
    transfer_target: str | None = None
    outbound: _Originate | None = None
    # set by our FastAGI routes as channel variables, seen as VarSet
    service_vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Originate:
    agent: str
    agent_interface: str
    customer: str
    outbound_callerid: str | None


class CallTracker:
    """Feed events in arrival order; collect finished records from the return values."""

    def __init__(
        self,
        inbound_contexts: Iterable[str] = ("callcenter-inbound",),
        default_region: str = "RU",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inbound_contexts = frozenset(inbound_contexts)
        self.default_region = default_region
        self._clock = clock
        self.calls: dict[str, _Call] = {}
        self._leg_call: dict[str, str] = {}  # uniqueid -> linkedid
        self._originates: dict[str, _Originate] = {}  # preset ChannelId -> click-to-call

    # -- input -----------------------------------------------------------------------------

    def expect_originate(self, channel_id: str, agent: str, agent_interface: str,
                         customer: str, outbound_callerid: str | None = None) -> None:
        """A click-to-call about to be placed with a preset Uniqueid: it is outbound."""
        self._originates[channel_id] = _Originate(agent, agent_interface, customer,
                                                  outbound_callerid)

    def handle(self, event: Event) -> list[CallRecord | AgentStateRecord]:
        name = event.get("Event", "")
        handler = self._HANDLERS.get(name)
        if handler is None or (name == "VarSet"
                               and event.get("Variable") not in _TRACKED_VARIABLES):
            return _NOTHING  # most events: more than half are dialplan VarSets
        return handler(self, event, _timestamp(event, self._clock)) or _NOTHING

    def reconcile(self, channels: list[Event], queue_entries: Iterable[Event] = (),
                  lost_at: float | None = None) -> list[CallRecord]:
        """After a (re)connect, from CoreShowChannels and QueueStatus: adopt channels and queue
        callers we never saw arrive, and close the calls whose channels ended while we were
        away, as of `lost_at` (the last moment we know of), marking their end as inferred."""
        now = self._clock()
        ended_at = lost_at if lost_at is not None else now
        live = {ch.get("Uniqueid", "") for ch in channels}
        for channel in channels:
            if channel.get("Uniqueid") and channel["Uniqueid"] not in self._leg_call:
                started = now - _duration(channel.get("Duration"))
                self._on_newchannel(channel, started)
                if channel.get("ChannelState") == _STATE_UP:
                    self._on_newstate(channel, started)
        for entry in queue_entries:
            found = self._leg(entry)
            if found and self._stay(found[0], found[1].uniqueid, entry.get("Queue")) is None:
                self._on_queue_join(entry, now - (_float(entry.get("Wait")) or 0.0))
        finished = []
        for call in list(self.calls.values()):
            for uniqueid in list(call.live):
                if uniqueid not in live:
                    call.legs[uniqueid].ended_at = max(ended_at, call.legs[uniqueid].created_at)
                    call.live.discard(uniqueid)
                    self._leg_call.pop(uniqueid, None)
            if not call.live:
                finished.append(self._finish(call, inferred=True))
        return finished

    # -- channels --------------------------------------------------------------------------

    def _on_newchannel(self, ev: Event, ts: float) -> None:
        uniqueid, linkedid = ev.get("Uniqueid", ""), ev.get("Linkedid") or ev.get("Uniqueid", "")
        if not uniqueid:
            return
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = _Call(linkedid=linkedid, started_at=ts)
        leg = _Leg(uniqueid=uniqueid, channel=ev.get("Channel", ""), created_at=ts,
                   context=ev.get("Context", ""), exten=ev.get("Exten", ""),
                   callerid_num=_cid(ev.get("CallerIDNum")),
                   callerid_name=_cid(ev.get("CallerIDName")))
        call.legs[uniqueid] = leg
        call.live.add(uniqueid)
        self._leg_call[uniqueid] = linkedid
        if leg.context in self.inbound_contexts and (
                call.entry_leg is None or is_local_twin(call.legs[call.entry_leg], leg)):
            # of a Local channel pair, the ;2 half is the one running the inbound dialplan
            call.entry_leg = uniqueid
        originate = self._originates.pop(uniqueid, None)
        if originate is not None:
            call.outbound = originate

    def _leg(self, ev: Event) -> tuple[_Call, _Leg] | None:
        linkedid = self._leg_call.get(ev.get("Uniqueid", ""))
        if linkedid is None:
            return None
        call = self.calls[linkedid]
        return call, call.legs[ev["Uniqueid"]]

    def _on_newcallerid(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if found:
            _, leg = found
            leg.callerid_num = _cid(ev.get("CallerIDNum")) or leg.callerid_num
            leg.callerid_name = _cid(ev.get("CallerIDName")) or leg.callerid_name

    def _on_newstate(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if found and ev.get("ChannelState") == _STATE_UP and found[1].answered_at is None:
            found[1].answered_at = ts

    def _on_hangup(self, ev: Event, ts: float) -> list[CallRecord]:
        found = self._leg(ev)
        if not found:
            return []
        call, leg = found
        leg.ended_at = ts
        leg.hangup_cause = _int(ev.get("Cause"))
        if call.first_hangup is None:
            call.first_hangup = leg.uniqueid
        call.live.discard(leg.uniqueid)
        self._leg_call.pop(leg.uniqueid, None)
        if call.live:
            return []
        return [self._finish(call, inferred=False)]

    def _on_bridge_enter(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if not found:
            return
        call, leg = found
        members = call.bridges.setdefault(ev.get("BridgeUniqueid", ""), set())
        members.add(leg.uniqueid)
        if len(members) >= 2 and call.bridged_at is None:
            call.bridged_at = ts

    def _on_bridge_leave(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if found:
            found[0].bridges.get(ev.get("BridgeUniqueid", ""), set()).discard(found[1].uniqueid)

    def _on_varset(self, ev: Event, ts: float) -> None:
        variable = ev.get("Variable", "")
        if variable not in _TRACKED_VARIABLES:
            return
        found = self._leg(ev)
        if not found:
            return
        call, leg = found
        value = ev.get("Value", "")
        if variable == "MIXMONITOR_FILENAME":
            if value and value not in call.recordings:
                call.recordings.append(value)
        elif variable in _SERVICE_VARIABLES:
            call.service_vars[variable] = value
        else:
            stay = self._stay(call, leg.uniqueid)
            if stay is not None and stay.status is None:
                stay.status = value

    def _on_transfer(self, ev: Event, ts: float) -> None:
        found = self._leg({"Uniqueid": ev.get("TransfererUniqueid", "")})
        if found:
            call = found[0]
            call.transfer_target = (ev.get("Extension") or ev.get("TransferTargetChannel")
                                    or ev.get("SecondTransfererChannel"))

    # -- queues ----------------------------------------------------------------------------

    def _stay(self, call: _Call, uniqueid: str, queue: str | None = None) -> _QueueStay | None:
        for stay in reversed(call.stays):
            if stay.uniqueid == uniqueid and (queue is None or stay.queue == queue):
                return stay
        return None

    def _on_queue_join(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if not found:
            return
        call, leg = found
        call.stays.append(_QueueStay(uniqueid=leg.uniqueid, queue=ev.get("Queue", ""),
                                     entered_at=ts, position=_int(ev.get("Position"))))
        if call.entry_leg is None:
            call.entry_leg = leg.uniqueid
        leg.callerid_num = _cid(ev.get("CallerIDNum")) or leg.callerid_num
        leg.callerid_name = _cid(ev.get("CallerIDName")) or leg.callerid_name

    def _on_queue_leave(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        stay = found and self._stay(found[0], found[1].uniqueid, ev.get("Queue"))
        if stay and stay.left_at is None:
            stay.left_at = ts

    def _on_queue_abandon(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        stay = found and self._stay(found[0], found[1].uniqueid, ev.get("Queue"))
        if stay:
            stay.abandoned = True
            stay.abandon_position = _int(ev.get("Position"))
            stay.wait = _float(ev.get("HoldTime"))  # seconds (documented otherwise)
            stay.left_at = stay.left_at or ts

    def _on_agent_connect(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        stay = found and self._stay(found[0], found[1].uniqueid, ev.get("Queue"))
        if stay:
            stay.agent = ev.get("MemberName") or ev.get("Interface")
            stay.agent_interface = ev.get("Interface")
            stay.connected_at = ts
            stay.wait = _float(ev.get("HoldTime"))

    def _on_agent_complete(self, ev: Event, ts: float) -> None:
        found = self._leg(ev)
        if not found:
            return
        stay = self._stay(found[0], found[1].uniqueid, ev.get("Queue"))
        if stay is None or stay.connected_at is None:
            # Join and connect happened while we were disconnected: AgentComplete carries all
            # of it (HoldTime and TalkTime in seconds).
            hold, talk = _float(ev.get("HoldTime")) or 0.0, _float(ev.get("TalkTime")) or 0.0
            if stay is None:
                self._on_queue_join(ev, ts - talk - hold)
            self._on_agent_connect(ev, ts - talk)
            stay = self._stay(found[0], found[1].uniqueid, ev.get("Queue"))
        if stay:
            stay.talk = _float(ev.get("TalkTime"))
            stay.complete_reason = ev.get("Reason")

    # -- agents ----------------------------------------------------------------------------

    def _agent_state(self, ev: Event, ts: float, state: str,
                     reason: str | None = None) -> list[AgentStateRecord]:
        interface = ev.get("Interface") or ev.get("StateInterface") or ""
        return [AgentStateRecord(agent=ev.get("MemberName") or interface, interface=interface,
                                 queue=ev.get("Queue"), state=state, reason=reason,
                                 at=_dt(ts))]

    def _on_member_added(self, ev: Event, ts: float) -> list[AgentStateRecord]:
        return self._agent_state(ev, ts, "login")

    def _on_member_removed(self, ev: Event, ts: float) -> list[AgentStateRecord]:
        return self._agent_state(ev, ts, "logout")

    def _on_member_pause(self, ev: Event, ts: float) -> list[AgentStateRecord]:
        paused = ev.get("Paused") == "1"
        reason = ev.get("PausedReason") or ev.get("Reason") or None
        return self._agent_state(ev, ts, "pause" if paused else "unpause",
                                 reason if paused else None)

    def _on_ring_no_answer(self, ev: Event, ts: float) -> list[AgentStateRecord]:
        ring_ms = _float(ev.get("RingTime"))  # milliseconds here, unlike AgentConnect
        reason = f"rang {ring_ms / 1000:.1f}s" if ring_ms is not None else None
        return self._agent_state(ev, ts, "ring_no_answer", reason)

    # -- the record ------------------------------------------------------------------------

    def _finish(self, call: _Call, inferred: bool) -> CallRecord:
        self.calls.pop(call.linkedid, None)
        legs = sorted(call.legs.values(), key=lambda leg: leg.created_at)
        ended = max((leg.ended_at or call.started_at for leg in legs), default=call.started_at)
        entry = call.legs.get(call.entry_leg or "")
        connected = next((s for s in call.stays if s.connected_at is not None), None)
        last_stay = call.stays[-1] if call.stays else None
        caller_raw = called_raw = caller_name = None
        agent = agent_interface = hangup_by = None
        answered_at: float | None = None
        wait = talk = None
        abandon_position = None

        if call.outbound is not None:
            direction = "outbound"
            caller_raw = call.outbound.outbound_callerid
            called_raw = call.outbound.customer
            agent, agent_interface = call.outbound.agent, call.outbound.agent_interface
        elif entry is not None:
            direction = "inbound"
            caller_raw, caller_name = entry.callerid_num or None, entry.callerid_name or None
            called_raw = entry.exten or None
        else:
            direction = "internal"
            first = legs[0]
            caller_raw, caller_name = first.callerid_num or None, first.callerid_name or None
            called_raw = first.exten or None

        if connected is not None:
            outcome = "answered"
            agent, agent_interface = connected.agent, connected.agent_interface
            answered_at = connected.connected_at
            wait = connected.wait
            talk = connected.talk
            if talk is None and answered_at is not None:
                talk = round(ended - answered_at, 3)
            if connected.complete_reason == "transfer" or call.transfer_target:
                outcome = "transferred"
            hangup_by = {"caller": "customer", "agent": "agent",
                         "transfer": "agent"}.get(connected.complete_reason or "")
        elif last_stay is not None:
            outcome = _stay_outcome(last_stay)
            if outcome == "abandoned":
                abandon_position = last_stay.abandon_position
            wait = last_stay.wait
            if wait is None:
                wait = round((last_stay.left_at or ended) - last_stay.entered_at, 3)
            hangup_by = "customer" if outcome == "abandoned" else "system"
        elif call.bridged_at is not None:
            outcome = "transferred" if call.transfer_target else "answered"
            answered_at = call.bridged_at
            talk = round(ended - call.bridged_at, 3)
        elif direction == "inbound" and call.service_vars.get("CC_ACTION") in _IVR_OUTCOME:
            outcome = _IVR_OUTCOME[call.service_vars["CC_ACTION"]]
            hangup_by = "system"
        elif direction == "inbound":
            outcome = "abandoned"  # hung up before reaching a queue (announce, IVR)
            hangup_by = "customer"
        elif any(leg.hangup_cause == _CAUSE_BUSY for leg in legs):
            outcome = "busy"
        else:
            outcome = "failed"

        if hangup_by is None and call.first_hangup is not None and outcome != "failed":
            first = call.legs[call.first_hangup]
            if call.outbound is not None:
                hangup_by = "agent" if same_side(first, legs[0]) else "customer"
            else:
                hangup_by = "customer" if same_side(first, entry) else "agent"

        return CallRecord(
            linkedid=call.linkedid,
            direction=direction,
            caller=to_e164(caller_raw, self.default_region),
            caller_raw=caller_raw,
            caller_name=caller_name,
            called=to_e164(called_raw, self.default_region),
            called_raw=called_raw,
            started_at=_dt(call.started_at),
            queue=(connected or last_stay).queue if (connected or last_stay) else None,
            queue_entered_at=_dt((connected or last_stay).entered_at)
            if (connected or last_stay) else None,
            answered_at=_dt(answered_at) if answered_at is not None else None,
            ended_at=_dt(ended),
            agent=agent,
            agent_interface=agent_interface,
            wait_seconds=wait,
            talk_seconds=talk,
            outcome=outcome,
            abandon_position=abandon_position,
            hangup_by=hangup_by,
            transfer_target=call.transfer_target,
            end_inferred=inferred,
            contact_id=_int(call.service_vars.get("CC_CONTACT_ID")),
            vip=call.service_vars.get("CC_VIP") == "1",
            ivr_path=call.service_vars.get("CC_IVR_PATH") or None,
            recording_opt_out=call.service_vars.get("CC_RECORDING_OPTOUT") == "1",
            consent_unknown=call.service_vars.get("CC_RECORDING_CONSENT") == "unknown",
            recordings=tuple(call.recordings),
            legs=tuple(
                LegRecord(uniqueid=leg.uniqueid, linkedid=call.linkedid, channel=leg.channel,
                          created_at=_dt(leg.created_at),
                          answered_at=_dt(leg.answered_at) if leg.answered_at else None,
                          ended_at=_dt(leg.ended_at) if leg.ended_at else None,
                          hangup_cause=leg.hangup_cause)
                for leg in legs
            ),
            queue_entries=tuple(
                QueueEntryRecord(
                    linkedid=call.linkedid, uniqueid=stay.uniqueid, queue=stay.queue,
                    entered_at=_dt(stay.entered_at),
                    left_at=_dt(stay.left_at) if stay.left_at else None,
                    position=stay.position, agent=stay.agent, wait_seconds=stay.wait,
                    outcome=_stay_outcome(stay),
                )
                for stay in call.stays
            ),
        )

    _HANDLERS: ClassVar[dict[str, Callable[..., list | None]]] = {
        "Newchannel": _on_newchannel,
        "NewCallerid": _on_newcallerid,
        "Newstate": _on_newstate,
        "Hangup": _on_hangup,
        "BridgeEnter": _on_bridge_enter,
        "BridgeLeave": _on_bridge_leave,
        "VarSet": _on_varset,
        "BlindTransfer": _on_transfer,
        "AttendedTransfer": _on_transfer,
        "QueueCallerJoin": _on_queue_join,
        "QueueCallerLeave": _on_queue_leave,
        "QueueCallerAbandon": _on_queue_abandon,
        "AgentConnect": _on_agent_connect,
        "AgentComplete": _on_agent_complete,
        "QueueMemberAdded": _on_member_added,
        "QueueMemberRemoved": _on_member_removed,
        "QueueMemberPause": _on_member_pause,
        "AgentRingNoAnswer": _on_ring_no_answer,
    }


def _stay_outcome(stay: _QueueStay) -> str:
    """Queue() also sends QueueCallerAbandon when it times out; QUEUESTATUS then tells."""
    if stay.connected_at is not None:
        return "answered"
    if stay.status in _QUEUESTATUS_OUTCOME:
        return _QUEUESTATUS_OUTCOME[stay.status]
    return "abandoned"


class Channel(Protocol):
    uniqueid: str
    channel: str


def same_side(leg: Channel, reference: Channel | None) -> bool:
    """Whether a channel is the reference channel or its Local-channel twin."""
    if reference is None:
        return False
    if leg.uniqueid == reference.uniqueid:
        return True
    return reference.channel.startswith("Local/") and (
        leg.channel.split(";")[0] == reference.channel.split(";")[0])


def is_local_twin(first: Channel, second: Channel) -> bool:
    """Whether `second` is the ;2 half of the Local channel whose ;1 half is `first`."""
    return (first.channel.startswith("Local/") and first.channel.endswith(";1")
            and second.channel == first.channel[:-1] + "2")


def _timestamp(event: Event, clock: Callable[[], float]) -> float:
    """Asterisk's own clock (manager.conf timestampevents=yes), ours only as a fallback."""
    raw = event.get("Timestamp")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    return clock()


def _duration(value: str | None) -> float:
    """CoreShowChannel's Duration, "HH:MM:SS"."""
    try:
        hours, minutes, seconds = (int(part) for part in (value or "").split(":"))
    except ValueError:
        return 0.0
    return hours * 3600 + minutes * 60 + seconds


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _cid(value: str | None) -> str:
    return "" if not value or value == "<unknown>" else value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None
