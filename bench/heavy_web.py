"""The telephony loop while the web is busy: FastAGI lookups, offered at a steady rate, before
and while the API imports 100k contacts and 20 clients ask for mp3 conversions at once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import Result, p50, percentile
from bench.service_api import running_service, write_wav
from callcenter.calls.models import Call
from callcenter.db import create_engine, session_factory
from callcenter.recordings.models import Recording
from callcenter.users.service import create_token, create_user
from tests.rig import free_port
from tests.unit.agi_peer import load, replay

IMPORT_ROWS = 100_000
CONVERSIONS = 20
LOOKUPS_PER_SECOND = 20
QUIET_SECONDS = 5


async def prepare(url: str, path: Path) -> tuple[str, int]:
    """A supervisor's token and the recording (`path`) to convert."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        user = await create_user(session, username="heavy-sup", role="supervisor")
        token = await create_token(session, user)
        now = datetime.now(UTC)
        session.add(Call(linkedid="heavy-rec", direction="inbound", started_at=now,
                         outcome="answered", end_inferred=False))
        recording = Recording(linkedid="heavy-rec", path=str(path), format="wav",
                              created_at=now)
        session.add(recording)
        await session.commit()
        recording_id = recording.id
    await engine.dispose()
    return token, recording_id


async def lookups(port: int, stop: asyncio.Event) -> list[float]:
    """Open loop: a lookup starts every 1/rate s whether or not the last one has finished."""
    transcript = load("01-lookup.jsonl")
    times: list[float] = []
    running: set[asyncio.Task[None]] = set()

    async def one() -> None:
        started = time.perf_counter()
        await replay(port, transcript)
        times.append(time.perf_counter() - started)

    while not stop.is_set():
        task = asyncio.create_task(one())
        running.add(task)
        task.add_done_callback(running.discard)
        await asyncio.sleep(1 / LOOKUPS_PER_SECOND)
    await asyncio.gather(*running)
    return times


def contacts_csv() -> bytes:
    lines = ["ФИО;Телефон;E-mail"] + [
        f"Клиент {i};+7 977 {i // 10000:03d}-{i % 10000:04d};heavy{i}@example.com"
        for i in range(IMPORT_ROWS)]
    return "\n".join(lines).encode()


async def web_load(base: str, token: str, recording_id: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:

        async def import_contacts() -> float:
            started = time.perf_counter()
            response = await http.post("/contacts/import",
                                       files={"file": ("heavy.csv", contacts_csv())})
            response.raise_for_status()
            return time.perf_counter() - started

        async def convert() -> int:
            response = await http.get(f"/recordings/{recording_id}", params={"format": "mp3"})
            return response.status_code

        imported, *statuses = await asyncio.gather(
            import_contacts(), *(convert() for _ in range(CONVERSIONS)))
    return {"import_seconds": imported, "converted": statuses.count(200),
            "refused": statuses.count(503)}


def run(url: str, tmp_dir: str) -> list[Result]:
    tmp = Path(tmp_dir) / "heavy"
    (tmp / "recordings").mkdir(parents=True, exist_ok=True)
    write_wav(tmp / "recordings" / "heavy-five.wav", 300)  # five minutes
    token, recording_id = asyncio.run(prepare(url, tmp / "recordings" / "heavy-five.wav"))
    http_port, agi_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"

    async def measure() -> dict[str, object]:
        async with running_service(url, http_port, tmp, agi_port):
            stop = asyncio.Event()
            quiet_task = asyncio.create_task(lookups(agi_port, stop))
            await asyncio.sleep(QUIET_SECONDS)
            stop.set()
            quiet = await quiet_task
            stop = asyncio.Event()
            busy_task = asyncio.create_task(lookups(agi_port, stop))
            web = await web_load(base, token, recording_id)
            stop.set()
            return {"quiet": quiet, "busy": await busy_task, "web": web}

    m = asyncio.run(measure())
    quiet, busy, web = m["quiet"], m["busy"], m["web"]
    assert isinstance(quiet, list) and isinstance(busy, list) and isinstance(web, dict)
    name = "Telephony under web load"
    load_label = (f"{IMPORT_ROWS // 1000}k-row import + {CONVERSIONS} mp3 conversions, "
                  f"{LOOKUPS_PER_SECOND} lookups/s")
    busy_p99 = percentile(busy, 99) * 1000
    return [
        Result(name, f"FastAGI lookup p50 ({load_label})", p50(busy) * 1000, "ms",
               "no web load", p50(quiet) * 1000),
        Result(name, f"FastAGI lookup p99 ({load_label})", busy_p99, "ms",
               "no web load", percentile(quiet, 99) * 1000, "p99 < 50 ms", busy_p99 < 50),
        Result(name, f"{IMPORT_ROWS // 1000}k-row CSV import, meanwhile",
               web["import_seconds"], "s"),
        Result(name, f"mp3 conversions served of {CONVERSIONS} asked at once",
               web["converted"], "conversions", "refused (503 + Retry-After)",
               web["refused"]),
    ]
