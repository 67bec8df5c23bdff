"""Records derived from Asterisk's own CEL and queue_log, recorded from the real Asterisk
(python -m tests.capture_ledger), agree with what the live AMI path made of the same calls."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from callcenter.ledger.derive import CelEvent, LedgerDeriver, QueueLogLine

LEDGER = Path(__file__).parent.parent / "traces" / "ledger"
EXACT = ("direction", "caller", "called", "queue", "agent", "outcome", "hangup_by",
         "transfer_target", "abandon_position")
WITHIN_A_SECOND = ("started_at", "queue_entered_at", "answered_at", "ended_at")


def trace_clock() -> Callable[[], float]:
    """A wall clock that starts just after the traces' last CEL event: a follower replaying
    them on the real clock would find every open call silent for days (stale), whatever the
    test meant to show."""
    last = max(CelEvent.parse(line).at  # type: ignore[union-attr]
               for name in ("cel-1.jsonl", "cel-2.jsonl")
               for line in (LEDGER / name).read_text().splitlines())
    shift = time.time() - (last + 1.0)
    return lambda: time.time() - shift


def derive(parts: list[tuple[str, str]], now: float = 4e9) -> dict[str, object]:
    deriver: LedgerDeriver[tuple[int, int]] = LedgerDeriver()
    records = []
    for segment, (cel, queue_log) in enumerate(parts):
        for number, line in enumerate((LEDGER / cel).read_text().splitlines()):
            event = CelEvent.parse(line)
            assert event is not None, line
            deriver.add_cel(event, (segment, number))
        for number, line in enumerate((LEDGER / queue_log).read_text().splitlines()):
            parsed = QueueLogLine.parse(line)
            assert parsed is not None, line
            deriver.add_queue_log(parsed, (segment, number))
        records += deriver.finished(now)
    return {r.linkedid: r for r in records}


@pytest.fixture(scope="module")
def live() -> dict[str, dict]:
    return {r["linkedid"]: r for r in json.loads((LEDGER / "ami-records.json").read_text())}


@pytest.fixture(scope="module")
def ledger() -> dict[str, object]:
    return derive([("cel-1.jsonl", "queue_log-1"), ("cel-2.jsonl", "queue_log-2")])


def test_every_call_once_across_the_rotation(ledger, live):
    assert sorted(ledger) == sorted(live)


@pytest.mark.parametrize("scenario", range(8))
def test_same_record_as_the_live_path(ledger, live, scenario):
    linkedid = sorted(live, key=lambda lid: live[lid]["started_at"])[scenario]
    derived, seen = ledger[linkedid], live[linkedid]
    for name in EXACT:
        assert getattr(derived, name) == seen[name], name
    for name in WITHIN_A_SECOND:
        if seen[name] is None:
            assert getattr(derived, name) is None, name
        else:
            assert abs(getattr(derived, name).timestamp()
                       - datetime.fromisoformat(seen[name]).timestamp()) < 1, name
    for name in ("wait_seconds", "talk_seconds"):
        if seen[name] is None:
            assert getattr(derived, name) is None, name
        else:
            assert abs(getattr(derived, name) - seen[name]) < 1, name
    assert derived.source == "ledger" and not derived.end_inferred


def test_recordings_come_from_mixmonitor_in_the_ledger(ledger):
    for record in ledger.values():
        hung_up_during_the_notice = record.outcome == "abandoned" and record.queue is None
        expected = [] if hung_up_during_the_notice else [f"{record.linkedid}.wav"]
        assert [Path(p).name for p in record.recordings] == expected


def test_queue_log_verbs_keep_their_own_outcomes(ledger, live):
    outcomes = sorted(r.outcome for r in ledger.values())
    assert outcomes == sorted(["answered", "abandoned", "timeout", "abandoned", "transferred",
                               "answered", "answered", "closed"])


def test_calls_dropped_by_an_asterisk_restart_are_closed_once_cel_passes_it():
    """kill -9 of Asterisk: the waiting caller's call never gets its LINKEDID_END; app_queue's
    QUEUESTART at the next start closes it, as of its last event, its end inferred."""
    deriver: LedgerDeriver[int] = LedgerDeriver()
    lines = (LEDGER / "cel-1.jsonl").read_text().splitlines()
    ends = [i for i, line in enumerate(lines) if "LINKEDID_END" in line]
    events = [CelEvent.parse(line) for line in lines[:ends[1] + 8]]  # the third call waits
    queue = [QueueLogLine.parse(line) for line in (LEDGER / "queue_log-1").read_text()
             .splitlines() if "EXITWITHTIMEOUT" not in line]
    for number, event in enumerate(events):
        deriver.add_cel(event, number)
    for number, line in enumerate(queue):
        deriver.add_queue_log(line, number)
    assert len(deriver.finished(now=4e9)) == 2
    waiting = next(iter(deriver.calls.values()))
    restart_at = waiting.last_event_at + 30
    deriver.add_queue_log(QueueLogLine(restart_at, "NONE", "NONE", "NONE", "QUEUESTART", ()),
                          len(queue))
    assert deriver.finished(now=4e9) == []  # CEL has not been read past the restart yet
    later = dataclasses.replace(events[0], linkedid="after-restart", uniqueid="after-restart",
                                at=restart_at + 5)
    deriver.add_cel(later, len(events))
    [dropped] = deriver.finished(now=4e9)
    assert (dropped.linkedid, dropped.queue, dropped.outcome, dropped.hangup_by,
            dropped.end_inferred) == (waiting.linkedid, "sales", "abandoned", "system", True)
    assert dropped.ended_at.timestamp() == pytest.approx(waiting.last_event_at)
    assert list(deriver.calls) == ["after-restart"]


def test_dialler_attempts_are_outbound_with_the_number_whatever_the_customer_did():
    """Progressive-dialler calls recorded from the real Asterisk (python -m
    tests.capture_dialler): busy, unanswered and congested customers never reach
    `callcenter-dialler`, yet each is an outbound call to the number dialled; the answered one
    is put through to the agent the dialplan named."""
    what = json.loads((LEDGER / "dialler-calls.json").read_text())
    deriver: LedgerDeriver[int] = LedgerDeriver()
    for number, line in enumerate((LEDGER / "dialler-cel.jsonl").read_text().splitlines()):
        event = CelEvent.parse(line)
        assert event is not None, line
        deriver.add_cel(event, number)
    records = {r.linkedid: r for r in deriver.finished(4e9)}
    assert sorted(records) == sorted(what)
    numbers = {"busy": "+74951110006", "no_answer": "+74951110007",
               "congestion": "+74951110009", "answered": "+74951110001"}
    for linkedid, record in records.items():
        assert (record.direction, record.called) == ("outbound", numbers[what[linkedid]]), (
            what[linkedid])
        assert (record.answered_at is not None) == (what[linkedid] == "answered")
    by_what = {what[lid]: r for lid, r in records.items()}
    assert by_what["busy"].outcome == "busy"
    assert (by_what["answered"].outcome, by_what["answered"].agent) == ("answered", "Olga")
    # without the dialler's Linkedid the unanswered ones would be internal calls
    plain: LedgerDeriver[int] = LedgerDeriver(dialled_prefixes=())
    for number, line in enumerate((LEDGER / "dialler-cel.jsonl").read_text().splitlines()):
        plain.add_cel(CelEvent.parse(line), number)  # type: ignore[arg-type]
    assert {what[r.linkedid]: r.direction for r in plain.finished(4e9)}["busy"] == "internal"
