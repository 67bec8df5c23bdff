"""The live queue/agent picture, replayed from real traces."""

from __future__ import annotations

from callcenter.queues.live import LiveState
from tests.unit.trace import messages


def replay_until(name: str, stop: str, occurrence: int = 1) -> tuple[LiveState, dict]:
    live = LiveState(clock=lambda: 2_000_000_000.0)
    seen = 0
    for event in messages(name):
        live.handle(event)
        if event.get("Event") == stop:
            seen += 1
            if seen == occurrence:
                return live, event
    raise AssertionError(f"{stop} not in {name}")


def support(live: LiveState) -> dict:
    return next(q for q in live.snapshot() if q["queue"] == "support")


def test_caller_waits_then_the_agent_rings_then_talks_then_is_idle():
    live, _ = replay_until("answered", "QueueCallerJoin")
    [caller] = support(live)["callers"]
    assert (caller["position"], caller["number"]) == (1, "+79161234567")
    live, _ = replay_until("answered", "AgentCalled")
    [member] = support(live)["members"]
    assert member["ringing"] and member["name"] == "Anna"
    live, connect = replay_until("answered", "AgentConnect")
    queue = support(live)
    assert queue["callers"] == []
    assert queue["members"][0]["on_call"] == connect["Linkedid"]
    assert queue["members"][0]["talking_to"] == "+79161234567"
    live, _ = replay_until("answered", "AgentComplete")
    member = support(live)["members"][0]
    assert member["on_call"] is None and member["idle_seconds"] is not None


def test_abandoned_caller_leaves_the_queue():
    live, _ = replay_until("abandoned", "QueueCallerJoin")
    sales = next(q for q in live.snapshot() if q["queue"] == "sales")
    assert len(sales["callers"]) == 1
    live, _ = replay_until("abandoned", "QueueCallerAbandon")
    sales = next(q for q in live.snapshot() if q["queue"] == "sales")
    assert sales["callers"] == []


def test_pause_with_reason_and_logout():
    live, _ = replay_until("agents", "QueueMemberPause")
    [member] = support(live)["members"]
    assert (member["name"], member["paused"], member["paused_reason"]) == ("Boris", True, "lunch")
    live, _ = replay_until("agents", "QueueMemberPause", occurrence=2)
    assert support(live)["members"][0]["paused"] is False
    live, _ = replay_until("agents", "QueueMemberRemoved")
    assert support(live)["members"] == []


def test_queue_status_seeds_the_picture_after_a_reconnect():
    live = LiveState(clock=lambda: 1000.0)
    live.load_status([
        {"Event": "QueueParams", "Queue": "support"},
        {"Event": "QueueMember", "Queue": "support", "Name": "Anna",
         "Location": "PJSIP/1001", "Paused": "1", "PausedReason": "training",
         "CallsTaken": "7", "LastCall": "900", "LastPause": "950"},
        {"Event": "QueueEntry", "Queue": "support", "Position": "1", "Uniqueid": "u1",
         "CallerIDNum": "+79161234567", "Wait": "42"},
    ])
    [queue] = live.snapshot()
    assert queue["longest_wait"] == 42
    assert queue["members"][0] | {} == {
        "name": "Anna", "interface": "PJSIP/1001", "paused": True, "paused_reason": "training",
        "ringing": False, "on_call": None, "talking_to": None, "talking_to_name": None,
        "idle_seconds": 100.0,
        "calls_taken": 7, "state_seconds": 50.0}  # paused since LastPause


def test_time_in_state_runs_from_each_change_on_the_servers_clock():
    live = LiveState(clock=lambda: 1000.0)
    member = {"Queue": "support", "Interface": "PJSIP/1001", "MemberName": "Anna"}
    steps = [("QueueMemberAdded", 900.0, 100.0), ("AgentCalled", 990.0, 10.0),
             ("AgentConnect", 994.0, 6.0), ("AgentComplete", 999.0, 1.0),
             ("QueueMemberPause", 999.5, 0.5)]
    for name, at, in_state in steps:
        live.handle({**member, "Event": name, "Linkedid": "l1", "Paused": "1",
                     "Timestamp": str(at)})
        assert support(live)["members"][0]["state_seconds"] == in_state, name
