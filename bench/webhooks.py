"""Webhooks: delivery throughput (events/s from the outbox to a local receiver, signed, in
order per call) and the lag from a call's end (its record handed to the writer) to the
receiver holding its call.ended, p50/p99.

Baselines from the same run: the same signed POSTs sent straight to the same receiver with
the same client and concurrency (what the outbox's bookkeeping costs), and that POST's own
round trip (the floor of the lag). The receiver runs in the same process (uvicorn), on the
same 2 cores: the figures are a floor for a real CRM, not a ceiling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from pathlib import Path

import httpx

from bench.common import Result, percentile
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallRecord, CallTracker
from callcenter.db import create_engine, session_factory
from callcenter.outbox.deliver import Deliverer
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.service import create_subscription
from callcenter.outbox.signing import sign
from callcenter.settings import Settings
from tests.test_store import unique
from tests.unit.trace import messages
from tests.webhook_receiver import Receiver

EVENTS = 3000
CALLS = 150  # ordering keys the events are spread over
LAG_CALLS = 200
LAG_RATE = 20.0  # calls ending per second


async def _bench(database_url: str, tmp: str) -> list[Result]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    settings = Settings(database_url=database_url)
    receiver = Receiver("bench-secret-0123456789abcdef")
    await receiver.start()
    try:
        async with sessions() as session, session.begin():
            await create_subscription(session, url=receiver.url, events=["call.ringing",
                                                                         "call.ended"],
                                      role="admin", secret=receiver.secret, allow_private=True,
                                      created_by="bench", private_allowed_by_setting=False)
        keys = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(CALLS)]
        async with sessions() as session, session.begin():
            ids = await emit_many(session, [
                Event("call.ringing", {"linkedid": keys[i % CALLS], "n": i}, keys[i % CALLS])
                for i in range(EVENTS)])
        deliverer = Deliverer(sessions, settings)
        started = time.monotonic()
        task = asyncio.create_task(deliverer.run())
        wanted = set(ids)
        await receiver.wait_for(lambda a: len(a) >= len(wanted), 600)
        seconds = time.monotonic() - started
        throughput = EVENTS / seconds

        # baseline: the same signed POSTs, straight, same concurrency, no outbox
        body = json.dumps({"id": "x", "type": "call.ringing", "data": {"n": 1}}).encode()
        gate = asyncio.Semaphore(settings.webhook_concurrency)
        async with httpx.AsyncClient() as client:
            async def post() -> float:
                async with gate:
                    t0 = time.monotonic()
                    await client.post(receiver.url, content=body, headers={
                        "Content-Type": "application/json",
                        "Callcenter-Signature": sign(receiver.secret, body)})
                    return time.monotonic() - t0
            t0 = time.monotonic()
            round_trips = await asyncio.gather(*(post() for _ in range(EVENTS)))
            raw = EVENTS / (time.monotonic() - t0)

        # lag: call records through the real writer, a call ending every 1/LAG_RATE s
        tracker = CallTracker()
        [call] = [r for m in messages("answered") for r in tracker.handle(m)
                  if isinstance(r, CallRecord)]
        writer = RecordWriter(engine, sessions, dead_letter=Path(tmp) / "dead.jsonl")
        writing = asyncio.create_task(writer.run())
        ended: dict[str, float] = {}
        for n in range(LAG_CALLS):
            record = dataclasses.replace(unique(call, f"-lag{n}-{uuid.uuid4().hex[:6]}"),
                                         recordings=())
            ended[record.linkedid] = time.monotonic()
            writer.submit([record])
            await asyncio.sleep(1 / LAG_RATE)  # the call rate of the scenario
        arrivals = await receiver.wait_for(lambda a: sum(
            x.body["type"] == "call.ended" and x.body["ordering_key"] in ended
            for x in a) >= LAG_CALLS, 300)
        lags = [a.at - ended[a.body["ordering_key"]] for a in arrivals
                if a.body["type"] == "call.ended" and a.body["ordering_key"] in ended]
        writing.cancel()
        task.cancel()
        await asyncio.gather(writing, task, return_exceptions=True)
    finally:
        await receiver.stop()
        await engine.dispose()
    rtt_p99 = percentile(round_trips, 99) * 1000
    return [
        Result("webhooks", f"delivery throughput ({EVENTS} events, {CALLS} calls, in order "
                           "per call)", throughput, "events/s",
               "same signed POSTs without the outbox", raw),
        Result("webhooks", f"call end -> call.ended delivered, p50 ({LAG_CALLS} calls at "
                           f"{LAG_RATE:.0f}/s)", percentile(lags, 50) * 1000, "ms",
               "one POST's round trip, p99", rtt_p99),
        Result("webhooks", "call end -> call.ended delivered, p99", percentile(lags, 99) * 1000,
               "ms", "one POST's round trip, p99", rtt_p99, target="< 1000 ms",
               met=percentile(lags, 99) < 1.0),
    ]


def run(database_url: str, tmp: str) -> list[Result]:
    return asyncio.run(_bench(database_url, tmp))
