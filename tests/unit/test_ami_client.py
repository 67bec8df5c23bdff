"""The AMI client against a loopback peer: each of panoramisk 1.4's known faults, avoided."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.ami.client import AMIClient, AMIError
from callcenter.ami.listener import AMIListener
from callcenter.calls.clicktocall import click_to_call
from callcenter.calls.tracker import CallTracker
from callcenter.queues.live import LiveState
from callcenter.settings import Settings
from tests.unit.fake_ami import FakeAMI
from tests.unit.trace import trace_bytes


@pytest.fixture
async def peer():
    fake = await FakeAMI().start()
    yield fake
    await fake.stop()


def client_for(peer: FakeAMI, events: list, **kwargs) -> AMIClient:
    return AMIClient("127.0.0.1", peer.port, "u", "s", on_event=events.append, **kwargs)


async def connected(client: AMIClient) -> asyncio.Task:
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(client.connected.wait(), 5)
    await asyncio.sleep(0.05)  # login answered
    return task


async def stop(client: AMIClient, task: asyncio.Task) -> None:
    await client.stop()
    await asyncio.wait_for(task, 5)


async def test_events_arrive_in_order_from_one_big_read(peer):
    events: list = []
    client = client_for(peer, events)
    task = await connected(client)
    data = trace_bytes("answered")
    peer.send(data)
    expected = data.count(b"\r\nEvent: ") + data.startswith(b"Event: ")
    for _ in range(100):
        if len(events) >= expected:
            break
        await asyncio.sleep(0.02)
    assert len(events) == expected
    stamps = [float(e["Timestamp"]) for e in events if "Timestamp" in e]
    assert stamps == sorted(stamps)  # never newest-first
    await stop(client, task)


async def test_a_failing_callback_loses_only_its_own_event(peer, caplog):
    seen: list = []

    def handler(event):
        if event.get("Uniqueid") == "bad":
            raise RuntimeError("boom")
        seen.append(event["Uniqueid"])

    client = AMIClient("127.0.0.1", peer.port, "u", "s", on_event=handler)
    task = await connected(client)
    peer.send(b"Event: Hangup\r\nUniqueid: a\r\n\r\nEvent: Hangup\r\nUniqueid: bad\r\n\r\n"
              b"Event: Hangup\r\nUniqueid: c\r\n\r\n")
    await asyncio.sleep(0.1)
    assert seen == ["a", "c"]
    assert client.connected.is_set()
    assert "event handler failed" in caplog.text
    await stop(client, task)


async def test_action_without_answer_times_out(peer):
    client = client_for(peer, [], action_timeout=0.2)
    task = await connected(client)
    with pytest.raises(AMIError, match="no answer"):
        await client.action({"Action": "QueueSummary"})
    await stop(client, task)


async def test_action_while_disconnected_fails_at_once():
    client = AMIClient("127.0.0.1", 1, "u", "s", on_event=lambda e: None)
    with pytest.raises(AMIError, match="not connected"):
        await asyncio.wait_for(client.action({"Action": "Originate", "Async": "true"}), 1)


async def test_unanswered_originate_is_not_sent_again_after_reconnect(peer):
    client = client_for(peer, [], action_timeout=5)
    task = await connected(client)
    pending = asyncio.create_task(client.action({"Action": "Originate", "Async": "true"}))
    await asyncio.sleep(0.1)
    peer.drop()
    with pytest.raises(AMIError, match="lost"):
        await asyncio.wait_for(pending, 3)
    await asyncio.wait_for(client.connected.wait(), 5)  # reconnected (backoff 1 s)
    await asyncio.sleep(0.2)
    assert [a["Action"] for a in peer.actions].count("Originate") == 1
    assert peer.logins == 2
    await stop(client, task)


async def test_unanswered_ping_closes_a_half_open_connection(peer, caplog):
    peer.answer_ping = False
    client = client_for(peer, [], ping_interval=0.2)
    task = await connected(client)
    with caplog.at_level(logging.WARNING):
        for _ in range(50):
            if "ping unanswered" in caplog.text:
                break
            await asyncio.sleep(0.05)
    assert "ping unanswered" in caplog.text
    await stop(client, task)


async def test_refused_login_is_an_error_and_backs_off(peer, caplog):
    peer.accept_login = False
    client = client_for(peer, [], max_backoff=30)
    task = asyncio.create_task(client.run())
    await asyncio.sleep(1.0)
    assert peer.logins == 1  # not retried every 2 s: it waits max_backoff
    assert "login refused" in caplog.text
    await stop(client, task)


async def test_list_action_collects_its_events(peer):
    client = client_for(peer, [])
    task = await connected(client)
    assert await client.action_list({"Action": "CoreShowChannels"}) == []
    await stop(client, task)


async def test_originate_is_always_sent_with_an_explicit_async_and_a_preset_id(peer):
    """panoramisk 1.4 breaks the connection on an Originate without Async; ours always says."""
    client = client_for(peer, [], action_timeout=0.3)
    task = await connected(client)
    with pytest.raises(AMIError):  # the loopback peer never answers Originate
        await click_to_call(client, CallTracker(), agent="Anna", agent_interface="PJSIP/1001",
                            customer_e164="+79169876543")
    [originate] = [a for a in peer.actions if a.get("Action") == "Originate"]
    assert originate["Async"] == "true"
    assert originate["ChannelId"].startswith("c2c-") and originate["Exten"] == "79169876543"
    assert client.connected.is_set()
    await stop(client, task)


async def test_backoff_starts_again_from_its_minimum_after_a_successful_login(peer):
    """Asterisk restarting: attempts back off while it is away; once a session has logged in,
    the next cut is retried after the minimum, not after the grown back-off."""
    waits: list[float] = []
    waited = asyncio.Event()

    async def retry_wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            peer.refusing = False  # Asterisk is back
        waited.set()

    peer.refusing = True
    client = client_for(peer, [], min_backoff=1.0, max_backoff=30, retry_wait=retry_wait)
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(client.connected.wait(), 5)
    assert waits == [1.0, 2.0, 4.0] and peer.logins == 1
    waited.clear()
    peer.drop()
    await asyncio.wait_for(waited.wait(), 5)
    assert waits[3] == 1.0  # not 8.0
    await asyncio.wait_for(client.connected.wait(), 5)
    assert peer.logins == 2
    await stop(client, task)


class SpyTracker(CallTracker):
    def __init__(self) -> None:
        super().__init__()
        self.lost_at: list[float | None] = []
        self.reconciled = asyncio.Event()

    def reconcile(self, channels, queue_entries=(), lost_at=None):
        self.lost_at.append(lost_at)
        self.reconciled.set()
        return super().reconcile(channels, queue_entries, lost_at)


class NoWriter:
    def submit(self, records) -> None:
        pass


async def test_lost_at_is_the_last_event_before_the_cut_not_one_after_reconnecting(peer,
                                                                                  tmp_path):
    tracker = SpyTracker()
    listener = AMIListener(Settings(ami_port=peer.port, spool_dir=tmp_path), tracker,
                           NoWriter(), LiveState(), sessions=None)  # type: ignore[arg-type]
    listener.client.min_backoff = 0.01
    seen = asyncio.Event()
    listener.subscribe(lambda event: seen.set(), frozenset({"VarSet"}))
    # events that reach the listener as soon as it connects, before it has logged in
    peer.after_greeting = b"Event: FullyBooted\r\nTimestamp: 1700000500.000000\r\n\r\n"
    task = asyncio.create_task(listener.client.run())
    await asyncio.wait_for(tracker.reconciled.wait(), 5)
    assert tracker.lost_at == [None]  # the first connection lost nothing

    peer.send(b"Event: VarSet\r\nTimestamp: 1700000123.456000\r\nUniqueid: x\r\n"
              b"Variable: A\r\nValue: 1\r\n\r\n")
    await asyncio.wait_for(seen.wait(), 5)
    tracker.reconciled.clear()
    peer.drop()
    await asyncio.wait_for(tracker.reconciled.wait(), 5)
    assert tracker.lost_at == [None, 1700000123.456]
    assert listener.last_event_at == 1700000500.0  # the new session's events did arrive first
    await stop(listener.client, task)


async def test_an_originate_outcome_right_behind_its_acknowledgement_reaches_subscribers(peer):
    """Asterisk can write OriginateResponse (which carries the ActionID and a Response
    header) in the same read as Originate's acknowledgement, as it did for a Busy() customer:
    the acknowledgement answers the action, the outcome is still an event."""
    events: list = []
    client = client_for(peer, events)
    task = await connected(client)
    original = peer._answer

    def answer_with_outcome(action, writer):
        if action.get("Action") == "Originate":
            aid = action["ActionID"]
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: Originate "
                         f"successfully queued\r\n\r\nEvent: OriginateResponse\r\n"
                         f"ActionID: {aid}\r\nResponse: Failure\r\nChannel: Local/1@x\r\n"
                         f"Reason: 5\r\nUniqueid: dl-1\r\n\r\n".encode())
        else:
            original(action, writer)

    peer._answer = answer_with_outcome
    response = await client.action({"Action": "Originate", "Channel": "Local/1@x",
                                    "Async": "true"})
    assert response["Message"] == "Originate successfully queued"
    for _ in range(100):
        if events:
            break
        await asyncio.sleep(0.02)
    assert [(e["Event"], e["Reason"]) for e in events] == [("OriginateResponse", "5")]
    await stop(client, task)
