"""Queue calls recovered from a real queue_log (tests/traces/queue_log)."""

from __future__ import annotations

from pathlib import Path

from callcenter.calls.recovery import read_cdr_since, read_since, recover, recover_from_cdr

QUEUE_LOG = Path(__file__).resolve().parent.parent / "traces" / "queue_log"


def by_id(known: set[str] | None = None) -> dict:
    lines = read_since(QUEUE_LOG, 0)
    return {r.linkedid: r for r in recover(lines, known or set(), "RU")}


def test_each_kind_of_queue_call_is_recovered_with_its_figures():
    records = by_id()
    answered = records["test-11b4fbc9d1e8-2"]
    assert (answered.outcome, answered.queue, answered.agent) == ("answered", "vip", "Xena")
    assert (answered.wait_seconds, answered.talk_seconds) == (0, 2)
    assert answered.caller == "+79265550022" and answered.source == "queue_log"
    abandoned = records["test-b0efa1cdd673-2"]
    assert (abandoned.outcome, abandoned.abandon_position, abandoned.agent) == (
        "abandoned", 1, None)
    timeout = records["test-bd6417022b28-2"]
    assert (timeout.outcome, timeout.wait_seconds) == ("timeout", 2)
    transfer = records["test-a23da6d9b558-2"]
    assert (transfer.outcome, transfer.agent, transfer.transfer_target) == (
        "transferred", "Anna", "5000")
    assert (transfer.wait_seconds, transfer.talk_seconds) == (4, 1)
    assert all(r.end_inferred and len(r.queue_entries) == 1 for r in records.values())


def test_calls_already_known_and_calls_still_going_are_left_alone():
    lines = read_since(QUEUE_LOG, 0)
    going = [line for line in lines if line[1] == "test-11b4fbc9d1e8-2"][:2]  # no COMPLETE
    assert recover(going, set(), "RU") == []
    assert "test-bd6417022b28-2" not in by_id({"test-bd6417022b28-2"})


def test_only_lines_since_the_given_time_are_read():
    assert {line[1] for line in read_since(QUEUE_LOG, 1795487400)} == {"test-11b4fbc9d1e8-2"}


CDR = QUEUE_LOG.with_name("cdr.csv")


def test_calls_are_recovered_from_the_cdr_unless_known():
    rows = read_cdr_since(CDR, 0)
    records = {r.linkedid: r for r in recover_from_cdr(
        rows, known_linkedids=set(), known_uniqueids={"test-872b26894df8-2"},
        inbound_contexts=["callcenter-inbound"], default_region="RU")}
    assert set(records) == {"test-4e2f66476632", "test-6baf3fd251a1", "test-4aca45613745"}
    early = records["test-6baf3fd251a1"]
    assert (early.direction, early.outcome, early.caller, early.called, early.source) == (
        "inbound", "abandoned", "+79161230004", "+74950000000", "cdr")
    answered = records["test-4aca45613745"]
    assert (answered.outcome, answered.talk_seconds) == ("answered", 14)
    assert answered.answered_at is not None and answered.end_inferred
    assert recover_from_cdr(rows, set(records) | {"test-872b26894df8"}, set(),
                            ["callcenter-inbound"], "RU") == []
