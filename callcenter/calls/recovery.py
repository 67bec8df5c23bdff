"""Queue calls that began and ended while the listener was away, recovered from queue_log.

Asterisk writes every queue call to its queue_log whether or not anyone listens on AMI. After a
(re)connect the listener reads the lines written while it was away and makes records for the
calls it has none for, so the abandoned-call list has no holes. Such a record's Linkedid is the
queued channel's Uniqueid (queue_log knows no other) and its source is "queue_log".
"""

from __future__ import annotations

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
