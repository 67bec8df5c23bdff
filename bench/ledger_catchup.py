"""Ledger catch-up: a day of a 200-agent center (20,000 calls) of CEL and queue_log, made of the
calls recorded from the real Asterisk (tests/traces/ledger) under new ids and times, read from
the start and written to PostgreSQL as final records, as after a long outage.
Baseline, in the same run: the live AMI path's records/s on the recorded AMI stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import func, select

from bench import ami_ingest
from bench.common import Result, Timer, ami_trace
from callcenter.calls.ledger import LedgerFollower
from callcenter.calls.models import Call
from callcenter.db import create_engine, session_factory
from tests.unit.test_ledger_derive import LEDGER

CALLS = 20_000
DAY = 86_400.0


def write_day(directory: Path, calls: int = CALLS) -> tuple[Path, Path]:
    """The recorded calls again and again, each copy under its own ids, spread over a day."""
    cel_lines = [json.loads(line) for name in ("cel-1.jsonl", "cel-2.jsonl")
                 for line in (LEDGER / name).read_text().splitlines()]
    queue_lines = [line.split("|") for name in ("queue_log-1", "queue_log-2")
                   for line in (LEDGER / name).read_text().splitlines()]
    recorded = len({event["linkedid"] for event in cel_lines})
    step = DAY / (calls / recorded)
    cel, queue_log = directory / "cel.jsonl", directory / "queue_log"
    with cel.open("w") as cel_file, queue_log.open("w") as queue_file:
        for copy in range(calls // recorded):
            shift, tag = copy * step - DAY, f"-d{copy}"
            for event in cel_lines:
                cel_file.write(json.dumps({
                    **event, "eventtime": event["eventtime"] + shift,
                    "uniqueid": event["uniqueid"] + tag, "linkedid": event["linkedid"] + tag,
                    "appdata": event["appdata"].replace(".wav", f"{tag}.wav")}) + "\n")
            for when, callid, *rest in queue_lines:
                if callid in ("MANAGER", "NONE"):
                    continue
                fields = [str(int(float(when) + shift)), callid + tag, *rest]
                if fields[4] == "CONNECT":
                    fields[6] += tag
                queue_file.write("|".join(fields) + "\n")
    return cel, queue_log


async def catch_up(database_url: str, directory: Path) -> tuple[float, int]:
    """Seconds from the start to the last record committed; calls written."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    follower = LedgerFollower(cel_path=directory / "cel.jsonl",
                              queue_log_path=directory / "queue_log", sessions=sessions,
                              from_start=True, poll_interval=0.01)
    try:
        with Timer() as timer:
            task = asyncio.create_task(follower.run())
            while follower.records_written < CALLS:
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with sessions() as session:
            written = await session.scalar(select(func.count()).select_from(Call).where(
                Call.source == "ledger"))
        return timer.seconds, written or 0
    finally:
        await engine.dispose()


def run(database_url: str, tmp: str) -> list[Result]:
    directory = Path(tmp) / "ledger"
    directory.mkdir(parents=True, exist_ok=True)
    write_day(directory)
    seconds, written = asyncio.run(catch_up(database_url, directory))
    live_seconds, _events, live_records = asyncio.run(
        ami_ingest.pipeline(ami_trace(), database_url, tmp))
    rate, live_rate = written / seconds, live_records / live_seconds
    return [
        Result("ledger catch-up", f"a day ({written:,} calls) to PostgreSQL", seconds, "s",
               target="< 30 s", met=seconds < 30 and written >= CALLS),
        Result("ledger catch-up", "final records written", rate, "calls/s",
               "live AMI path", live_rate),
    ]
