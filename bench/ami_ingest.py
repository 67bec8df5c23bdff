"""AMI ingest: a recorded real stream of queue calls, replayed over a local socket as fast as
the listener takes it, through parsing, live state and call records written to PostgreSQL.
Baseline, in the same run: panoramisk 1.4's own parser on the same bytes, doing nothing else."""

from __future__ import annotations

import asyncio

from panoramisk.ami_protocol import AMIProtocol

from bench.common import Result, Timer, ami_trace
from callcenter.ami.protocol import FrameParser
from callcenter.service import Service
from callcenter.settings import Settings
from tests.unit.fake_ami import FakeAMI

CHUNK = 65536


def panoramisk_parse(data: bytes) -> int:
    """panoramisk's data_received split + Message.from_line, messages counted and dropped."""
    count = 0

    class Counting(AMIProtocol):
        def handle_message(self, message) -> None:
            nonlocal count
            count += 1

    protocol = Counting()
    protocol.connection_made(None)
    protocol.encoding = "utf-8"
    for i in range(0, len(data), CHUNK):
        protocol.data_received(data[i:i + CHUNK])
    return count


def our_parse(data: bytes) -> int:
    parser = FrameParser()
    return sum(len(parser.feed(data[i:i + CHUNK])) for i in range(0, len(data), CHUNK))


async def pipeline(data: bytes, database_url: str, tmp: str) -> tuple[float, int, int]:
    """Seconds from the first byte to the last record in PostgreSQL; events; calls."""
    peer = await FakeAMI().start()
    settings = Settings(database_url=database_url, ami_port=peer.port, agi_port=0,
                        recordings_dir=f"{tmp}/recordings", spool_dir=f"{tmp}/spool")
    service = Service(settings)
    await service.start()
    try:
        await asyncio.wait_for(service.ami.client.connected.wait(), 10)
        while not any(a.get("Action") == "QueueStatus" for a in peer.actions):
            await asyncio.sleep(0.01)  # resynchronised: the stream may start
        await asyncio.sleep(0.1)
        events_before, written_before = service.ami.events_seen, service.writer.written
        expected = data.count(b"\r\nEvent: ") + data.startswith(b"Event: ")
        with Timer() as timer:
            peer.send(data)
            while service.ami.events_seen - events_before < expected:
                await asyncio.sleep(0.001)
            await service.writer.drain(timeout=120)
        calls = service.writer.written - written_before
        return timer.seconds, expected, calls
    finally:
        await service.stop()
        await peer.stop()


def run(database_url: str, tmp: str) -> list[Result]:
    data = ami_trace()
    with Timer() as baseline:
        baseline_messages = panoramisk_parse(data)
    with Timer() as ours:
        our_messages = our_parse(data)
    seconds, events, records = asyncio.run(pipeline(data, database_url, tmp))
    base_rate = baseline_messages / baseline.seconds
    rate = events / seconds
    return [
        Result("AMI ingest", "our parser alone", our_messages / ours.seconds, "msg/s",
               "panoramisk parser", base_rate),
        Result("AMI ingest", "whole pipeline to PostgreSQL", rate, "events/s",
               "panoramisk parser", base_rate, "≥ panoramisk parse", rate >= base_rate),
        Result("AMI ingest", "records written", records / seconds, "records/s"),
    ]
