"""Calls that began and ended while the listener was away, recovered from Asterisk's logs.

Asterisk writes every queue call to its queue_log, and every call to its CDR, whether or not
anyone listens on AMI. After a (re)connect the listener reads what was written while it was
away and makes records for the calls it has none for, so the abandoned-call list has no holes.
Queue calls come from queue_log (Linkedid: the queued channel's Uniqueid, the only id it
knows; source "queue_log"); the others from the CDR (source "cdr").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from callcenter.calls.tracker import CallRecord, QueueEntryRecord
from callcenter.phone import to_e164

MAX_READ = 64 * 1024 * 1024  # the tail of a huge queue_log is what matters
_TERMINAL = {"COMPLETECALLER": "answered", "COMPLETEAGENT": "answered",
             "BLINDTRANSFER": "transferred", "ATTENDEDTRANSFER": "transferred",
             "ABANDON": "abandoned", "EXITWITHTIMEOUT": "timeout", "EXITEMPTY": "no_agent",
             "EXITWITHKEY": "abandoned"}


@dataclass
class _QueueCall:
    callid: str
    queue: str
    entered: float | None = None
    caller: str | None = None
    events: list[tuple[float, str, str, list[str]]] = field(default_factory=list)


def read_since(path: Path, since: float) -> list[list[str]]:
    """queue_log lines (split on "|") stamped at or after `since`."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if size > MAX_READ:
            file.seek(size - MAX_READ)
            file.readline()  # a partial line
        lines = file.read().decode("utf-8", errors="replace").splitlines()
    out = []
    for line in lines:
        parts = line.split("|")
        try:
            if len(parts) >= 5 and float(parts[0]) >= since:
                out.append(parts)
        except ValueError:
            continue
    return out


def recover(lines: list[list[str]], known_callids: set[str],
            default_region: str) -> list[CallRecord]:
    """Records for finished queue calls not in `known_callids` (pure)."""
    calls: dict[str, _QueueCall] = {}
    for ts_text, callid, queue, agent, event, *data in lines:
        if callid in ("NONE", "") or callid in known_callids:
            continue
        ts = float(ts_text)
        call = calls.setdefault(callid, _QueueCall(callid, queue))
        if event == "ENTERQUEUE":
            call.entered, call.queue = ts, queue
            call.caller = data[1] if len(data) > 1 else None
        call.events.append((ts, event, agent, data))
    return [record for call in calls.values()
            if (record := _record(call, default_region)) is not None]


def _record(call: _QueueCall, region: str) -> CallRecord | None:
    terminal = next(((ts, ev, agent, data) for ts, ev, agent, data in reversed(call.events)
                     if ev in _TERMINAL), None)
    if terminal is None or call.entered is None:
        return None  # still going, or began before what we read
    ended, event, agent, data = terminal
    outcome = _TERMINAL[event]
    connect = next(((ts, a, d) for ts, ev, a, d in call.events if ev == "CONNECT"), None)
    wait = talk = answered = position = None
    member = None
    if outcome in ("answered", "transferred") and connect is not None:
        answered, member = connect[0], agent
        wait = _num(connect[2], 0)
        talk = _num(data, 1) if outcome == "answered" else _num(data, 3)
        if outcome == "transferred":
            wait = _num(data, 2)
    elif outcome == "abandoned":
        position, wait = _int(data, 0), _num(data, 2)
    elif outcome == "timeout":
        wait = _num(data, 2)
    entered = _dt(call.entered)
    return CallRecord(
        linkedid=call.callid, direction="inbound", caller=to_e164(call.caller, region),
        caller_raw=call.caller, caller_name=None, called=None, called_raw=None,
        started_at=entered, queue=call.queue, queue_entered_at=entered,
        answered_at=_dt(answered) if answered else None, ended_at=_dt(ended), agent=member,
        agent_interface=None, wait_seconds=wait, talk_seconds=talk, outcome=outcome,
        abandon_position=position, hangup_by="customer" if outcome == "abandoned" else None,
        transfer_target=data[0] if outcome == "transferred" and data else None,
        end_inferred=True, contact_id=None, vip=False, ivr_path=None, recording_opt_out=False,
        recordings=(), legs=(), source="queue_log",
        queue_entries=(QueueEntryRecord(
            linkedid=call.callid, uniqueid=call.callid, queue=call.queue, entered_at=entered,
            left_at=_dt(answered or ended), position=position, agent=member, wait_seconds=wait,
            outcome=outcome),))


@dataclass(frozen=True)
class CdrRow:
    """A line of cdr_custom's callcenter.csv (asterisk_conf/cdr_custom.conf)."""

    start: float
    answer: float | None
    end: float
    linkedid: str
    uniqueid: str
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    disposition: str
    billsec: float


def read_cdr_since(path: Path, since: float) -> list[CdrRow]:
    size = path.stat().st_size
    with path.open("rb") as file:
        if size > MAX_READ:
            file.seek(size - MAX_READ)
            file.readline()
        text = file.read().decode("utf-8", errors="replace")
    rows = []
    for cells in csv.reader(io.StringIO(text)):
        try:
            row = CdrRow(float(cells[0]), float(cells[1]) if cells[1] else None,
                         float(cells[2]), *cells[3:11], float(cells[11] or 0))
        except (IndexError, ValueError, TypeError):
            continue
        if row.end >= since:
            rows.append(row)
    return rows


def recover_from_cdr(rows: Iterable[CdrRow], known_linkedids: set[str],
                     known_uniqueids: set[str], inbound_contexts: Iterable[str],
                     default_region: str) -> list[CallRecord]:
    """Records for calls not known by Linkedid nor by any of their channels (pure)."""
    calls: dict[str, list[CdrRow]] = {}
    for row in rows:
        calls.setdefault(row.linkedid, []).append(row)
    inbound = set(inbound_contexts)
    records = []
    for linkedid, group in calls.items():
        if linkedid in known_linkedids or any(r.uniqueid in known_uniqueids for r in group):
            continue  # followed live, or a queue call recovered from queue_log
        group.sort(key=lambda r: r.start)
        first = group[0]
        bridged = [r for r in group if r.disposition == "ANSWERED" and r.dstchannel]
        if any(r.dcontext in inbound for r in group):
            direction = "inbound"
        elif first.dcontext == "callcenter-outbound":
            direction = "outbound"
        else:
            direction = "internal"
        entry = next((r for r in group if r.dcontext in inbound), first)
        if bridged:
            outcome = "answered"
        elif direction == "inbound":
            outcome = "abandoned"
        elif any(r.disposition == "BUSY" for r in group):
            outcome = "busy"
        else:
            outcome = "failed"
        answered = min((r.answer for r in bridged if r.answer), default=None)
        records.append(CallRecord(
            linkedid=linkedid, direction=direction,
            caller=to_e164(entry.src, default_region), caller_raw=entry.src or None,
            caller_name=None, called=to_e164(entry.dst, default_region),
            called_raw=entry.dst or None, started_at=_dt(first.start), queue=None,
            queue_entered_at=None, answered_at=_dt(answered) if answered else None,
            ended_at=_dt(max(r.end for r in group)), agent=None, agent_interface=None,
            wait_seconds=None, talk_seconds=max((r.billsec for r in bridged), default=None),
            outcome=outcome, abandon_position=None,
            hangup_by="customer" if outcome == "abandoned" else None, transfer_target=None,
            end_inferred=True, contact_id=None, vip=False, ivr_path=None,
            recording_opt_out=False, recordings=(), legs=(), queue_entries=(), source="cdr"))
    return records


def _num(data: list[str], index: int) -> float | None:
    try:
        return float(data[index])
    except (IndexError, ValueError):
        return None


def _int(data: list[str], index: int) -> int | None:
    value = _num(data, index)
    return int(value) if value is not None else None


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
