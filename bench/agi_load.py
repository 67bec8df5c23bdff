"""FastAGI under load: calls through the real Asterisk running announce + lookup (Local
channels), the most sessions held at once, and where the time goes."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import Result
from bench.populate import number
from callcenter.service import Service
from callcenter.settings import Settings
from tests.rig import Asterisk

CALLS = 300


async def _run(database_url: str, recordings: Path, calls: int) -> dict[str, float]:
    settings = Settings(database_url=database_url, recordings_dir=recordings,
                        spool_dir=recordings.parent / "spool", announce_prompt="beep")
    service = Service(settings)
    await service.start()
    try:
        await asyncio.wait_for(service.ami.client.connected.wait(), 30)
        agi = service.agi
        before = agi.sessions_served
        started = time.perf_counter()
        for i in range(calls):
            await service.ami.client.action({
                "Action": "Originate", "Channel": f"Local/{number(i + 1)[1:]}@cc-bench-agi",
                "Application": "Wait", "Data": "30", "CallerID": number(i + 1),
                "Async": "true"})
        originated = time.perf_counter() - started
        async with asyncio.timeout(300):
            while agi.sessions_served - before < 2 * calls or agi.active:
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        sessions = agi.sessions_served - before
        return {"calls_per_second": calls / elapsed, "sessions": sessions,
                "most_active": agi.most_active, "originate_seconds": originated,
                "route_ms": 1000 * agi.route_seconds / sessions,
                "asterisk_ms": 1000 * agi.asterisk_seconds / sessions}
    finally:
        await service.stop()


def run(database_url: str, tmp: str) -> list[Result]:
    recordings = Path(tempfile.mkdtemp(prefix="recordings-", dir=tmp))
    recordings.chmod(0o777)
    pbx = Asterisk(recordings)
    pbx.up()
    stats = asyncio.run(_run(database_url, recordings, CALLS))
    ours = stats["route_ms"] - stats["asterisk_ms"]
    return [
        Result("FastAGI under load", f"calls through announce+lookup ({CALLS} originated)",
               stats["calls_per_second"], "calls/s"),
        Result("FastAGI under load", "most AGI sessions held at once", stats["most_active"],
               "sessions"),
        Result("FastAGI under load", "time per AGI session", stats["route_ms"], "ms",
               "waiting for Asterisk (playback, commands)", stats["asterisk_ms"]),
        Result("FastAGI under load", "of which the service's own work", ours, "ms",
               "whole session", stats["route_ms"]),
    ]
