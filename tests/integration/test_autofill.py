"""Free agents answer waiting callers at once (queues.conf autofill = yes), not one caller per
ring cycle."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.integration.test_ivr import unique_number

pytestmark = pytest.mark.integration
N = 3
RING = 4.0  # seconds a cc-test-slow-agent phone rings before the agent answers


async def test_n_free_agents_answer_n_waiting_callers_in_one_ring_cycle(service):
    await logout_everyone(service, "support", "sales")
    loop = asyncio.get_running_loop()
    callers: set[str] = set()
    waiting: set[str] = set()
    all_waiting = asyncio.Event()
    connected: dict[str, tuple[float, str]] = {}  # linkedid: (when, agent)
    all_connected = asyncio.Event()

    def watch(event: dict[str, str]) -> None:
        linkedid = event.get("Linkedid", "")
        if linkedid not in callers:
            return
        if event["Event"] == "QueueCallerJoin":
            waiting.add(linkedid)
            if len(waiting) == N:
                all_waiting.set()
        elif event["Event"] == "AgentConnect" and linkedid not in connected:
            connected[linkedid] = (loop.time(), event.get("MemberName", ""))
            if len(connected) == N:
                all_connected.set()

    unsubscribe = service.ami.subscribe(watch, frozenset({"QueueCallerJoin", "AgentConnect"}))
    try:
        for _ in range(N):
            callers.add(await place_inbound_call(service, caller=unique_number(), patience=60,
                                                 talk=2, variables={"CC_QUEUE": "sales"}))
        await asyncio.wait_for(all_waiting.wait(), 30)  # nobody to answer yet: all wait
        logged_in = loop.time()
        for i in range(N):
            await login_agent(service, "sales", f"Slow{i}", f"210{i}",
                              phone="cc-test-slow-agent")
        await asyncio.wait_for(all_connected.wait(), 45)
        records = [await wait_for_call(service, linkedid, timeout=60) for linkedid in callers]
    finally:
        unsubscribe()
        await logout_everyone(service, "support", "sales")

    times = sorted(when for when, _ in connected.values())
    # one ring cycle for all: with autofill = no the second caller would only start ringing
    # once the first was connected, a whole ring (4 s) later, the third another ring after that
    assert times[-1] - times[0] < RING / 2, times
    assert times[-1] - logged_in < RING + 2.5, times
    assert len({agent for _, agent in connected.values()}) == N
    assert all(call.outcome == "answered" for call in records)
    assert {call.agent for call in records} == {f"Slow{i}" for i in range(N)}
