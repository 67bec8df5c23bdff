"""Final call records from Asterisk's own durable logs: CEL and queue_log. Pure, no I/O.

CEL says which channels a call (a Linkedid) had, when each began, was answered and ended,
what bridged, who hung up first, what MixMonitor recorded, and, with LINKEDID_END, that the
call is over. queue_log says what each queue did with it: which agent, how long the caller
waited and talked, and how the stay ended, in app_queue's own words. Both are written by
Asterisk whether or not anyone listens, so a record derived from them is right after any
crash, restart or network gap of ours.

Traps in Asterisk's data (22, recorded in tests/traces/ledger) this module relies on:
- queue_log's callid is the Uniqueid of the channel that ran Queue(), not the Linkedid: CEL
  maps it to its call.
- queue_log is stamped in whole seconds; CEL in microseconds: times come from CEL where both
  know them (Queue's APP_START, the caller's BRIDGE_ENTER), durations from queue_log.
- queue_log lines are written by app_queue's own subscriptions, not in step with CEL: a call's
  last queue_log line may reach the disk after its LINKEDID_END. A finished call whose queue
  stay has no ending yet waits `settle_seconds` for it.
- After a restart (kill -9 or `core restart now`) the calls Asterisk dropped never get their
  LINKEDID_END; app_queue writes QUEUESTART when it loads: calls still open then are closed
  at their last event, their end marked inferred.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from callcenter.calls.tracker import (
    CallRecord,
    LegRecord,
    QueueEntryRecord,
    is_local_twin,
    same_side,
)
from callcenter.phone import to_e164

P = TypeVar("P")  # where a line was read (a reader's position): only ordered and kept

# How each queue_log verb ends a stay: its outcome and who hung up (None: nobody in particular).
_STAY_ENDINGS: dict[str, tuple[str, str | None]] = {
    "COMPLETECALLER": ("answered", "customer"),
    "COMPLETEAGENT": ("answered", "agent"),
    "BLINDTRANSFER": ("transferred", "agent"),
    "ATTENDEDTRANSFER": ("transferred", "agent"),
    "ABANDON": ("abandoned", "customer"),
    "EXITWITHKEY": ("exit_with_key", "customer"),
    "WITHDRAW": ("withdrawn", "customer"),
    "EXITWITHTIMEOUT": ("timeout", "system"),
    "EXITEMPTY": ("no_agent", "system"),
}
# Where an inbound call ended when the IVR sent it elsewhere than a queue (callcenter-route).
_IVR_ENDINGS = {"voicemail": "voicemail", "callback": "callback_requested", "hangup": "closed"}
_ROUTE_CONTEXT = "callcenter-route"
_CAUSE_BUSY = 17


@dataclass(frozen=True, slots=True)
class CelEvent:
    """One line of the CEL ledger (asterisk_conf/cel_custom.conf)."""

    kind: str
    at: float
    uniqueid: str
    linkedid: str
    channel: str
    context: str
    exten: str
    cid_num: str
    cid_name: str
    app: str
    appdata: str
    extra: str
    user_type: str = ""  # CELGenUserEvent's name, for USER_DEFINED events

    @classmethod
    def parse(cls, line: bytes | str) -> CelEvent | None:
        """None for a line that is not a CEL event (torn write, foreign format)."""
        try:
            raw = json.loads(line)
            return cls(kind=raw["eventtype"], at=float(raw["eventtime"]),
                       uniqueid=raw["uniqueid"], linkedid=raw["linkedid"] or raw["uniqueid"],
                       channel=raw.get("channame", ""), context=raw.get("context", ""),
                       exten=raw.get("exten", ""), cid_num=raw.get("num", ""),
                       cid_name=raw.get("name", ""), app=raw.get("appname", ""),
                       appdata=raw.get("appdata", ""), extra=raw.get("eventextra", ""),
                       user_type=raw.get("userdeftype", ""))
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> CelEvent | None:
        """One row of cel_pgsql's table (migration 0005: asterisk_cel), where `eventtime` is
        a float column: cel_pgsql writes the epoch with its microseconds, no time zone."""
        try:
            text = {name: str(row[name] or "") for name in (
                "eventtype", "uniqueid", "linkedid", "channame", "context", "exten", "cid_num",
                "cid_name", "appname", "appdata", "extra", "userdeftype")}
            return cls(kind=text["eventtype"], at=float(row["eventtime"]),  # type: ignore[arg-type]
                       uniqueid=text["uniqueid"], linkedid=text["linkedid"] or text["uniqueid"],
                       channel=text["channame"], context=text["context"], exten=text["exten"],
                       cid_num=text["cid_num"], cid_name=text["cid_name"], app=text["appname"],
                       appdata=text["appdata"], extra=text["extra"],
                       user_type=text["userdeftype"])
        except (ValueError, KeyError, TypeError):
            return None

    def extra_fields(self) -> dict[str, object]:
        try:
            value = json.loads(self.extra) if self.extra else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    """One line of queue_log: time|callid|queue|agent|verb|data1|data2|..."""

    at: float
    callid: str
    queue: str
    agent: str
    verb: str
    data: tuple[str, ...]

    @classmethod
    def parse(cls, line: bytes | str) -> QueueLogLine | None:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        parts = text.rstrip("\r\n").split("|")
        if len(parts) < 5:
            return None
        try:
            at = float(parts[0])
        except ValueError:
            return None
        return cls(at, parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> QueueLogLine | None:
        """One row of queue_log written through res_config_pgsql realtime (migration 0005:
        asterisk_queue_log): `time` in UTC (logger.conf queue_log_realtime_use_gmt = yes),
        to the microsecond; data1..data5 as the file's fields after the verb."""
        stamp = row.get("time")
        if not isinstance(stamp, datetime):
            return None
        at = (stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)).timestamp()
        data = [str(row.get(f"data{i}") or "") for i in range(1, 6)]
        while data and not data[-1]:
            data.pop()
        return cls(at, str(row.get("callid") or ""), str(row.get("queuename") or ""),
                   str(row.get("agent") or ""), str(row.get("event") or ""), tuple(data))

    def number(self, index: int) -> float | None:
        try:
            return float(self.data[index])
        except (IndexError, ValueError):
            return None


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    channel: str
    created_at: float
    context: str  # where it began
    exten: str
    cid_num: str = ""
    cid_name: str = ""
    answered_at: float | None = None
    hangup_at: float | None = None
    ended_at: float | None = None
    hangup_cause: int | None = None
    last_context: str = ""
    last_exten: str = ""
    queue_started: list[float] = field(default_factory=list)  # Queue()'s APP_STARTs
    bridged: list[float] = field(default_factory=list)  # BRIDGE_ENTERs


@dataclass(slots=True)
class _Call(Generic[P]):
    linkedid: str
    first_position: P
    started_at: float
    last_event_at: float
    channels: dict[str, _Channel] = field(default_factory=dict)
    first_hangup: str | None = None
    recordings: list[str] = field(default_factory=list)
    transfer_target: str | None = None
    agent: str | None = None  # named by the dialplan (CELGenUserEvent CC_AGENT)
    # the dialplan recorded without the service (CC_FALLBACK): nobody checked the opt-out
    consent_unknown: bool = False
    ended_at: float | None = None  # LINKEDID_END
    ended_seen_at: float | None = None  # our clock when LINKEDID_END was read
    inferred: bool = False


# the progressive dialler's Linkedids (projects/dialler.py: Originate's ChannelId)
DIALLER_LINKEDID_PREFIX = "dl-"


class LedgerDeriver(Generic[P]):
    """Feed CEL events and queue_log lines in the order each file has them, with the position
    each was read at; take finished calls from `finished()`.

    `low_water()` says, per source, the earliest position a restart must read again so that
    no call still open here is lost: the position to commit with the records."""

    def __init__(self, inbound_contexts: Iterable[str] = ("callcenter-inbound",),
                 outbound_contexts: Iterable[str] = ("callcenter-outbound",
                                                     "callcenter-agents",
                                                     "callcenter-dialler"),
                 default_region: str = "RU", settle_seconds: float = 5.0,
                 stale_seconds: float = 12 * 3600,
                 dialled_prefixes: tuple[str, ...] = (DIALLER_LINKEDID_PREFIX,)) -> None:
        self.inbound_contexts = frozenset(inbound_contexts)
        # calls the dialler originated to a customer (Originate's ChannelId names the
        # Linkedid): outbound even when the customer never answered, so never entered the
        # dialler's context (busy, no answer, congestion)
        self.dialled_prefixes = dialled_prefixes
        self.outbound_contexts = frozenset(outbound_contexts)
        self.default_region = default_region
        self.settle_seconds = settle_seconds
        self.stale_seconds = stale_seconds  # a call silent this long in CEL is over
        self._cel_clock = 0.0  # the latest CEL event read
        self.calls: dict[str, _Call[P]] = {}
        self._call_of: dict[str, str] = {}  # Uniqueid -> Linkedid, for queue_log's callid
        # queue_log lines of calls not finished yet, by callid, with where each was read
        self._queue_lines: dict[str, list[tuple[P, QueueLogLine]]] = {}
        self._restarts: list[float] = []

    # -- input -----------------------------------------------------------------------------

    def add_cel(self, event: CelEvent, position: P) -> None:
        self._cel_clock = max(self._cel_clock, event.at)
        call = self.calls.get(event.linkedid)
        if call is None:
            if event.kind == "LINKEDID_END":
                return  # the rest of a call finished before where we started reading
            call = self.calls[event.linkedid] = _Call(event.linkedid, position, event.at,
                                                      event.at)
        call.last_event_at = max(call.last_event_at, event.at)
        channel = call.channels.get(event.uniqueid)
        if channel is None:
            channel = call.channels[event.uniqueid] = _Channel(
                event.uniqueid, event.channel, event.at, event.context, event.exten)
            self._call_of[event.uniqueid] = call.linkedid
        channel.cid_num = event.cid_num or channel.cid_num
        channel.cid_name = event.cid_name or channel.cid_name
        channel.last_context, channel.last_exten = event.context, event.exten
        kind = event.kind
        if kind == "ANSWER" and channel.answered_at is None:
            channel.answered_at = event.at
        elif kind == "HANGUP":
            channel.hangup_at = event.at
            cause = event.extra_fields().get("hangupcause")
            channel.hangup_cause = cause if isinstance(cause, int) else None
            if call.first_hangup is None:
                call.first_hangup = channel.uniqueid
        elif kind == "CHAN_END":
            channel.ended_at = event.at
        elif kind == "BRIDGE_ENTER":
            channel.bridged.append(event.at)
        elif kind == "APP_START" and event.app == "Queue":
            channel.queue_started.append(event.at)
        elif kind == "APP_START" and event.app == "MixMonitor":
            path = event.appdata.split(",", 1)[0]
            if path and path not in call.recordings:
                call.recordings.append(path)
        elif kind in ("BLINDTRANSFER", "ATTENDEDTRANSFER"):
            extra = event.extra_fields()
            target = extra.get("extension") or extra.get("transfer_target_channel_name")
            call.transfer_target = str(target) if target else call.transfer_target
        elif kind == "LINKEDID_END":
            call.ended_at = event.at
        elif event.user_type == "CC_FALLBACK":
            call.consent_unknown = True
        elif event.user_type == "CC_AGENT":
            extra = event.extra_fields().get("extra", event.extra)
            call.agent = str(extra) or None

    def add_queue_log(self, line: QueueLogLine, position: P) -> None:
        if line.verb == "QUEUESTART":
            self._restarts.append(line.at)  # Asterisk (re)started: see finished()
            return
        if line.callid in ("NONE", "MANAGER", "") or line.verb not in _QUEUE_VERBS:
            return  # agent and queue events: the live view's business
        self._queue_lines.setdefault(line.callid, []).append((position, line))

    # -- output ----------------------------------------------------------------------------

    def finished(self, now: float, cel_caught_up: bool = False) -> list[CallRecord]:
        """Records of the calls that are over: LINKEDID_END read and their queue stays ended
        (or given `settle_seconds` to); dropped by an Asterisk restart (QUEUESTART), once CEL
        has been read past it; or silent for `stale_seconds`. `cel_caught_up`: everything
        written to CEL so far has been read, so its clock stands at `now`."""
        if cel_caught_up:
            self._cel_clock = max(self._cel_clock, now - self.settle_seconds)
        restarts = [at for at in self._restarts if at < self._cel_clock]
        restart = max(restarts, default=None)
        done = []
        for call in list(self.calls.values()):
            if call.ended_at is None:
                dropped = restart is not None and call.last_event_at < restart
                silent = call.last_event_at < self._cel_clock - self.stale_seconds
                if not (dropped or silent):
                    continue
                call.inferred = True  # no LINKEDID_END will come
                call.ended_at = call.last_event_at
            if call.ended_seen_at is None:
                call.ended_seen_at = now
            if (not call.inferred and self._stays_unended(call)
                    and now - call.ended_seen_at < self.settle_seconds):
                continue
            done.append(self._finish(call))
        self._restarts = [at for at in self._restarts if at not in restarts]
        self._forget_unclaimed_queue_lines(self._cel_clock - self.stale_seconds)
        return done

    def low_water(self) -> tuple[P | None, P | None]:
        """(CEL, queue_log): the earliest positions still needed, None where nothing is."""
        cel = min((c.first_position for c in self.calls.values()), default=None)
        queue = min((lines[0][0] for lines in self._queue_lines.values()), default=None)
        return cel, queue

    def _forget_unclaimed_queue_lines(self, before: float) -> None:
        """Drops queue_log lines of callids no CEL call claimed, older than `before` (a call
        whose CEL began before where reading started): they would hold the low water."""
        stale = [callid for callid, lines in self._queue_lines.items()
                 if callid not in self._call_of and lines[-1][1].at < before]
        for callid in stale:
            del self._queue_lines[callid]

    # -- derivation ------------------------------------------------------------------------

    def _stays_unended(self, call: _Call[P]) -> bool:
        for uniqueid in call.channels:
            lines = self._queue_lines.get(uniqueid)
            if lines and lines[-1][1].verb not in _STAY_ENDINGS:
                return True
        return False

    def _finish(self, call: _Call[P]) -> CallRecord:
        del self.calls[call.linkedid]
        stays = []
        for uniqueid, channel in call.channels.items():
            self._call_of.pop(uniqueid, None)
            lines = [line for _, line in self._queue_lines.pop(uniqueid, [])]
            stays += _stays(channel, lines)
        stays.sort(key=lambda s: s.entered_at)
        channels = sorted(call.channels.values(), key=lambda c: c.created_at)
        ended = call.ended_at if call.ended_at is not None else call.last_event_at
        entry = self._entry(channels)
        outbound = next((c for c in channels if c.last_context in self.outbound_contexts
                         or c.context in self.outbound_contexts), None)
        caller_raw = called_raw = caller_name = agent = None
        # the dialler's call: the customer's channel is the one it originated, first
        dialled = (channels[0] if channels and call.linkedid.startswith(self.dialled_prefixes)
                   else None)
        if entry is not None:
            direction = "inbound"
            caller_raw, caller_name = entry.cid_num or None, entry.cid_name or None
            called_raw = entry.exten or None
        elif outbound is not None or dialled is not None:
            direction = "outbound"
            called_raw = (_outbound_number(outbound) if outbound is not None else "") or (
                _dialled_number(dialled) if dialled is not None else "") or None
            agent = call.agent
        else:
            direction = "internal"
            caller_raw, caller_name = channels[0].cid_num or None, channels[0].cid_name or None
            called_raw = channels[0].exten or None

        connected = next((s for s in stays if s.connected_at is not None), None)
        last_stay = stays[-1] if stays else None
        answered_at = wait = talk = None
        abandon_position = hangup_by = None
        transfer_target = call.transfer_target
        if connected is not None:
            outcome = connected.outcome or "answered"
            agent = connected.agent
            answered_at, wait, talk = connected.connected_at, connected.wait, connected.talk
            if talk is None and answered_at is not None:
                talk = round(ended - answered_at, 3)
            hangup_by = connected.hangup_by
            transfer_target = connected.transfer_target or transfer_target
            if transfer_target and outcome == "answered":
                outcome = "transferred"
        elif last_stay is not None:
            outcome = last_stay.outcome or "abandoned"
            wait = last_stay.wait
            if wait is None:
                wait = round((last_stay.left_at or ended) - last_stay.entered_at, 3)
            abandon_position = last_stay.position_left if outcome == "abandoned" else None
            hangup_by = last_stay.hangup_by or (
                "system" if call.inferred else "customer" if outcome == "abandoned" else None)
        elif (bridged_at := _bridged_at(channels)) is not None:
            outcome = "transferred" if transfer_target else "answered"
            answered_at = bridged_at
            talk = round(ended - bridged_at, 3)
        elif entry is not None and entry.last_context == _ROUTE_CONTEXT and (
                entry.last_exten in _IVR_ENDINGS):
            outcome, hangup_by = _IVR_ENDINGS[entry.last_exten], "system"
        elif entry is not None:
            outcome, hangup_by = "abandoned", "customer"  # before any queue (notice, IVR)
        elif any(c.hangup_cause == _CAUSE_BUSY for c in channels):
            outcome = "busy"
        else:
            outcome = "failed"

        if hangup_by is None and call.first_hangup is not None and outcome != "failed":
            first = call.channels[call.first_hangup]
            if dialled is not None:  # channels[0] is the customer's here
                hangup_by = "customer" if same_side(first, dialled) else "agent"
            elif direction == "outbound":
                hangup_by = "agent" if same_side(first, channels[0]) else "customer"
            else:
                hangup_by = "customer" if same_side(first, entry) else "agent"

        return CallRecord(
            linkedid=call.linkedid, direction=direction,
            caller=to_e164(caller_raw, self.default_region), caller_raw=caller_raw,
            caller_name=caller_name,
            called=to_e164(called_raw, self.default_region), called_raw=called_raw,
            started_at=_dt(call.started_at),
            queue=(connected or last_stay).queue if stays else None,
            queue_entered_at=_dt((connected or last_stay).entered_at) if stays else None,
            answered_at=_dt(answered_at) if answered_at is not None else None,
            ended_at=_dt(ended), agent=agent, agent_interface=None,  # AMI knows it
            wait_seconds=wait, talk_seconds=talk, outcome=outcome,
            abandon_position=abandon_position, hangup_by=hangup_by,
            transfer_target=transfer_target, end_inferred=call.inferred,
            contact_id=None, vip=False, ivr_path=None, recording_opt_out=False,
            recordings=tuple(call.recordings), consent_unknown=call.consent_unknown,
            legs=tuple(LegRecord(
                uniqueid=c.uniqueid, linkedid=call.linkedid, channel=c.channel,
                created_at=_dt(c.created_at),
                answered_at=_dt(c.answered_at) if c.answered_at is not None else None,
                ended_at=_dt(c.ended_at if c.ended_at is not None else ended),
                hangup_cause=c.hangup_cause) for c in channels),
            queue_entries=tuple(QueueEntryRecord(
                linkedid=call.linkedid, uniqueid=s.uniqueid, queue=s.queue,
                entered_at=_dt(s.entered_at),
                left_at=_dt(s.left_at) if s.left_at is not None else None,
                position=s.position, agent=s.agent, wait_seconds=s.wait,
                outcome=s.outcome or "abandoned") for s in stays),
            source="ledger",
        )

    def _entry(self, channels: list[_Channel]) -> _Channel | None:
        """The caller's channel where it came in; of a Local pair, the ;2 half that runs the
        inbound dialplan."""
        entry = None
        for channel in channels:
            if channel.context not in self.inbound_contexts:
                continue
            if entry is None or is_local_twin(entry, channel):
                entry = channel
        return entry


@dataclass(slots=True)
class _Stay:
    uniqueid: str
    queue: str
    entered_at: float
    position: int | None
    agent: str | None = None
    connected_at: float | None = None
    left_at: float | None = None
    wait: float | None = None
    talk: float | None = None
    outcome: str | None = None
    hangup_by: str | None = None
    position_left: int | None = None
    transfer_target: str | None = None


_QUEUE_VERBS = frozenset({"ENTERQUEUE", "CONNECT", *_STAY_ENDINGS})


def _stays(channel: _Channel, lines: list[QueueLogLine]) -> list[_Stay]:
    """A channel's queue stays from its queue_log lines, precise times taken from CEL."""
    stays: list[_Stay] = []
    starts = iter(channel.queue_started)
    for line in lines:
        if line.verb == "ENTERQUEUE":
            # Queue()'s APP_START is the same moment to the microsecond
            start = next(starts, None)
            entered = start if start is not None and abs(start - line.at) < 2 else line.at
            position = line.number(2)
            stays.append(_Stay(channel.uniqueid, line.queue, entered,
                               int(position) if position is not None else None))
            continue
        stay = stays[-1] if stays and stays[-1].queue == line.queue else None
        if stay is None:
            continue  # entered before where we started reading
        if line.verb == "CONNECT":
            stay.agent = line.agent if line.agent != "NONE" else None
            stay.wait = line.number(0)
            bridged = [at for at in channel.bridged if at >= line.at - 1]
            stay.connected_at = bridged[0] if bridged else line.at
            stay.left_at = stay.connected_at
            continue
        outcome, hangup_by = _STAY_ENDINGS[line.verb]
        stay.outcome, stay.hangup_by = outcome, hangup_by
        stay.left_at = stay.left_at or line.at
        if line.verb in ("COMPLETECALLER", "COMPLETEAGENT"):
            stay.wait, stay.talk = line.number(0), line.number(1)
        elif line.verb == "BLINDTRANSFER":  # extension|context|hold|talk|origposition
            stay.transfer_target = line.data[0] if line.data else None
            stay.wait, stay.talk = line.number(2), line.number(3)
        elif line.verb == "ATTENDEDTRANSFER":  # method|target...|hold|talk|origposition
            stay.transfer_target = line.data[1] if len(line.data) > 1 else None
            stay.wait, stay.talk = line.number(-3), line.number(-2)
        elif line.verb == "EXITWITHKEY":  # key|position|origposition|wait
            stay.wait = line.number(3)
            position = line.number(1)
            stay.position_left = int(position) if position is not None else None
        else:  # ABANDON, EXITWITHTIMEOUT, EXITEMPTY, WITHDRAW: position|origposition|wait
            stay.wait = line.number(2)
            position = line.number(0)
            stay.position_left = int(position) if position is not None else None
    return stays


def _bridged_at(channels: list[_Channel]) -> float | None:
    """When two of the call's channels first stood in a bridge (a direct, non-queue call)."""
    entered = sorted(at for c in channels for at in c.bridged)
    return entered[1] if len(entered) >= 2 else None


def _outbound_number(channel: _Channel) -> str:
    """The number an outbound channel dialled: its extension in the outbound context."""
    return channel.last_exten if channel.last_exten not in ("", "s") else channel.exten


def _dialled_number(channel: _Channel) -> str:
    """The number the dialler originated to, from the customer's channel as it began: its
    extension (a Local channel's `Local/<number>@...`), else the name's `<number>@`."""
    for text in (channel.exten, channel.channel.split("/", 1)[-1].split("@", 1)[0]):
        if text.lstrip("+").isdigit():
            return text
    return ""


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
