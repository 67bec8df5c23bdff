"""Call records from real traces, checked as a supervisor would read them."""

from __future__ import annotations

import pytest

from callcenter.calls.tracker import AgentStateRecord, CallRecord, CallTracker
from tests.unit.trace import messages

CLICK_TO_CALL_ID = "c2c-543c4fda20674423"


def replay(name: str, chunk: int | None = None) -> list[CallRecord | AgentStateRecord]:
    tracker = CallTracker()
    tracker.expect_originate(CLICK_TO_CALL_ID, "Anna", "Local/2001@cc-test-agent/n",
                             "+79169876543", "+74950000000")
    out: list[CallRecord | AgentStateRecord] = []
    for message in messages(name, chunk):
        out.extend(tracker.handle(message))
    assert not tracker.calls, "every call in the trace ended"
    return out


def calls(name: str, chunk: int | None = None) -> list[CallRecord]:
    return [r for r in replay(name, chunk) if isinstance(r, CallRecord)]


def test_answered_queue_call():
    [call] = calls("answered")
    assert call.direction == "inbound"
    assert (call.caller, call.caller_name, call.called) == ("+79161234567", "Иван Петров",
                                                            "+74950000000")
    assert (call.queue, call.agent, call.outcome) == ("support", "Anna", "answered")
    assert call.agent_interface == "Local/2001@cc-test-agent/n"
    assert call.wait_seconds == 0 and call.talk_seconds == 3
    assert call.hangup_by == "agent"
    assert call.started_at <= call.queue_entered_at <= call.answered_at < call.ended_at
    assert call.recordings == (
        "/tmp/callcenter-capture-2kpawb92/recordings/2026/11/24/test-142c72bfa1e0.wav",)
    assert len(call.legs) == 4 and all(leg.ended_at for leg in call.legs)
    [entry] = call.queue_entries
    assert (entry.queue, entry.agent, entry.outcome, entry.position) == (
        "support", "Anna", "answered", 1)


def test_caller_hanging_up_in_queue_is_abandoned_with_position_and_wait():
    [call] = calls("abandoned")
    assert (call.queue, call.outcome, call.agent) == ("sales", "abandoned", None)
    assert call.caller == "+79161112233"  # sent as 89161112233
    assert call.abandon_position == 1
    assert call.wait_seconds == 0  # HoldTime is whole seconds
    assert call.hangup_by == "customer"
    assert call.talk_seconds is None and call.answered_at is None


def test_queue_timeout_is_not_an_abandon():
    """Queue() sends QueueCallerAbandon on timeout too; QUEUESTATUS=TIMEOUT decides."""
    [call] = calls("timeout")
    assert call.outcome == "timeout"
    assert call.caller == "+4930123456"
    assert call.wait_seconds == 3
    assert call.abandon_position is None
    assert call.queue_entries[0].outcome == "timeout"


def test_blind_transfer_by_agent():
    [call] = calls("transfer")
    assert call.outcome == "transferred"
    assert call.transfer_target == "5000"
    assert call.agent == "Anna"
    assert call.talk_seconds == 1


def test_click_to_call_is_outbound_with_the_agent():
    [call] = calls("clicktocall")
    assert call.linkedid == CLICK_TO_CALL_ID
    assert call.direction == "outbound"
    assert (call.agent, call.called, call.caller) == ("Anna", "+79169876543", "+74950000000")
    assert call.outcome == "answered"
    assert call.talk_seconds is not None and 1.5 < call.talk_seconds < 3.5
    assert call.recordings and call.recordings[0].endswith(f"{CLICK_TO_CALL_ID}.wav")


def test_agent_login_pause_unpause_logout_history():
    states = [r for r in replay("agents") if isinstance(r, AgentStateRecord)]
    assert [(s.agent, s.queue, s.state, s.reason) for s in states] == [
        ("Boris", "support", "login", None),
        ("Boris", "support", "pause", "lunch"),
        ("Boris", "support", "unpause", None),
        ("Boris", "support", "logout", None),
    ]
    assert states == sorted(states, key=lambda s: s.at)


@pytest.mark.parametrize("name", ["answered", "abandoned", "timeout", "transfer",
                                  "clicktocall", "agents"])
@pytest.mark.parametrize("chunk", [1, 7, 1500])
def test_same_records_whatever_the_read_size(name, chunk):
    """Events are handled in arrival order however TCP cuts the stream (UTF-8 names too)."""
    assert replay(name, chunk) == replay(name)
