"""Resynchronising after a disconnect, from real trace events."""

from __future__ import annotations

from callcenter.calls.tracker import CallRecord, CallTracker
from tests.unit.trace import messages


def feed_until(tracker: CallTracker, name: str, stop_event: str) -> list[dict[str, str]]:
    events = messages(name)
    for i, event in enumerate(events):
        tracker.handle(event)
        if event.get("Event") == stop_event:
            return events[i + 1:]
    raise AssertionError(f"no {stop_event} in {name}")


def test_call_ended_while_away_is_closed_with_an_inferred_end():
    tracker = CallTracker(clock=lambda: 2_000_000_000.0)
    missed = feed_until(tracker, "answered", "AgentConnect")
    lost_at = float(missed[0]["Timestamp"])
    [record] = [r for r in tracker.reconcile([], lost_at=lost_at) if isinstance(r, CallRecord)]
    assert record.end_inferred
    assert (record.outcome, record.agent) == ("answered", "Anna")
    assert record.ended_at.timestamp() == lost_at  # not the reconnect time
    assert not tracker.calls


def test_call_still_up_after_reconnect_keeps_going_and_ends_exactly_once():
    tracker = CallTracker()
    rest = feed_until(tracker, "answered", "AgentConnect")
    live = [{"Event": "CoreShowChannel", "Uniqueid": uid}
            for call in tracker.calls.values() for uid in call.live]
    assert tracker.reconcile(live) == []
    records = [r for e in rest for r in tracker.handle(e) if isinstance(r, CallRecord)]
    [record] = records
    assert not record.end_inferred and record.talk_seconds == 3


def test_channels_that_began_while_away_are_adopted():
    tracker = CallTracker(clock=lambda: 1000.0)
    channel = {"Event": "CoreShowChannel", "Uniqueid": "u1", "Linkedid": "u1",
               "Channel": "PJSIP/trunk-00000001", "Context": "callcenter-inbound",
               "Exten": "74950000000", "CallerIDNum": "+79161234567", "ChannelState": "6",
               "Duration": "00:00:42"}
    assert tracker.reconcile([channel]) == []
    [record] = tracker.handle({"Event": "Hangup", "Uniqueid": "u1", "Timestamp": "1010"})
    assert record.direction == "inbound" and record.caller == "+79161234567"
    assert record.started_at.timestamp() == 958.0
