"""Telephony while the web is busy (issue 13's "done when"): FastAGI lookups and AMI events,
offered at a steady rate, before and while the API serves at once a 100k-row contact import,
20 wrong logins a second, 20 mp3 conversions asked at once and a 100k-row CSV export.

The lookups are timed from their own process, so the load generator's work (building the
upload, reading 20 streams) does not count against the service. AMI event lag is the service's
own figure (`callcenter_ami_event_lag_seconds` on /metrics): its clock when it handles an event
minus the event's Timestamp, stamped by the (fake) Asterisk as it writes the event."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.common import Result, p50, percentile
from bench.populate import number, raw_dsn
from bench.service_api import running_service, write_wav
from callcenter.calls.models import Call
from callcenter.db import create_engine, session_factory
from callcenter.recordings.models import Recording
from callcenter.users.service import create_token, create_user
from tests.rig import free_port
from tests.unit.agi_peer import load, replay
from tests.unit.fake_ami import FakeAMI

IMPORT_ROWS = 100_000
EXPORT_ROWS = 100_000
CONVERSIONS = 20
WRONG_LOGINS_PER_SECOND = 20
LOOKUPS_PER_SECOND = 20
AMI_EVENTS_PER_SECOND = 50
QUIET_SECONDS = 5
EXPORT_QUEUE = "heavy-export"
# The login throttle as shipped: after 30 guesses a minute from one address the rest are
# 429 without a password check. HEAVY_OPEN_THROTTLE=1 opens it wide so that every guess
# costs a scrypt run (a crowd of addresses): see the README for that figure.
SETTINGS = {"CALLCENTER_LOGIN_LIMITS_PER_USER": "100000/minute",
            "CALLCENTER_LOGIN_LIMITS_PER_ADDRESS": "100000/minute"} \
    if os.environ.get("HEAVY_OPEN_THROTTLE") == "1" else {}


async def prepare(url: str, path: Path) -> tuple[str, int]:
    """A supervisor's token, the recording (`path`) to convert, 100k calls to export."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        user = await create_user(session, username="heavy-sup", role="supervisor")
        token = await create_token(session, user)
        await create_user(session, username="heavy-victim", role="supervisor",
                          password="correct horse")
        now = datetime.now(UTC)
        session.add(Call(linkedid="heavy-rec", direction="inbound", started_at=now,
                         outcome="answered", end_inferred=False))
        recording = Recording(linkedid="heavy-rec", path=str(path), format="wav",
                              created_at=now)
        session.add(recording)
        await session.commit()
        recording_id = recording.id
    await engine.dispose()
    conn = await asyncpg.connect(raw_dsn(url))
    try:
        await conn.copy_records_to_table(
            "calls", columns=["linkedid", "direction", "caller", "called", "started_at",
                              "queue", "answered_at", "ended_at", "agent", "wait_seconds",
                              "talk_seconds", "outcome", "end_inferred", "vip",
                              "recording_opt_out", "source"],
            records=((f"heavy-{i}", "inbound", number(i + 1), "+74950000000",
                      now - timedelta(seconds=i), EXPORT_QUEUE, now, now,
                      f"Agent{i % 200:03d}", 20.0, 180.0, "answered", False, False, False,
                      "ami") for i in range(EXPORT_ROWS)))
        await conn.execute("ANALYZE calls")
    finally:
        await conn.close()
    return token, recording_id


def probe(port: int, stop: multiprocessing.synchronize.Event,
          results: multiprocessing.Queue) -> None:
    """In its own process: open loop, a lookup starts every 1/rate s whether or not the last
    one has finished; puts the list of durations on `results` once `stop` is set, and the
    probe's own lateness (how late its loop woke to start each lookup: what the machine's
    load does to a process that does next to nothing)."""

    async def main() -> tuple[list[float], list[float]]:
        transcript = load("01-lookup.jsonl")
        times: list[float] = []
        late: list[float] = []
        running: set[asyncio.Task[None]] = set()

        async def one() -> None:
            started = time.perf_counter()
            await replay(port, transcript)
            times.append(time.perf_counter() - started)

        next_at = time.perf_counter()
        while not stop.is_set():
            task = asyncio.create_task(one())
            running.add(task)
            task.add_done_callback(running.discard)
            next_at += 1 / LOOKUPS_PER_SECOND
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            late.append(time.perf_counter() - next_at)
        await asyncio.gather(*running)
        return times, late

    results.put(asyncio.run(main()))


# FastAGI lookup's query (contacts.lookup.caller_by_number), as the probe sends it straight
# to PostgreSQL: how long the database alone takes under the same load.
CALLER_SQL = """SELECT c.id, c.name, c.vip, c.language, c.recording_opt_out
FROM contacts c JOIN contact_numbers n ON n.contact_id = c.id WHERE n.number = $1 LIMIT 1"""


def db_probe(url: str, stop: multiprocessing.synchronize.Event,
             results: multiprocessing.Queue) -> None:
    """In its own process: the lookup's query at the lookups' rate, open loop, on asyncpg."""

    async def main() -> list[float]:
        conn = await asyncpg.connect(raw_dsn(url))
        times: list[float] = []
        running: set[asyncio.Task[None]] = set()
        lock = asyncio.Lock()

        async def one() -> None:
            started = time.perf_counter()
            async with lock:  # one connection, as a route holds one
                await conn.fetchrow(CALLER_SQL, "+79031234567")
            times.append(time.perf_counter() - started)

        next_at = time.perf_counter()
        while not stop.is_set():
            task = asyncio.create_task(one())
            running.add(task)
            task.add_done_callback(running.discard)
            next_at += 1 / LOOKUPS_PER_SECOND
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*running)
        await conn.close()
        return times

    results.put(asyncio.run(main()))


class DbLookups:
    """The database probe process, started and stopped around a phase."""

    def __init__(self, url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.results: multiprocessing.Queue = context.Queue()
        self.process = context.Process(target=db_probe, args=(url, self.stop, self.results))

    def __enter__(self) -> DbLookups:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.kill()

    async def finish(self) -> list[float]:
        self.stop.set()
        times = await asyncio.to_thread(self.results.get, True, 60)
        self.process.join(10)
        return times


class Lookups:
    """The probe process, started and stopped around a phase."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.results: multiprocessing.Queue = context.Queue()
        self.process = context.Process(target=probe, args=(port, self.stop, self.results))

    def __enter__(self) -> Lookups:
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.is_alive():
            self.process.kill()

    async def finish(self) -> list[float]:
        """The lookups' durations (the probe's own lateness in `self.late`)."""
        self.stop.set()
        times, self.late = await asyncio.to_thread(self.results.get, True, 60)
        self.process.join(10)
        return times


async def ami_events(peer: FakeAMI, stop: asyncio.Event) -> None:
    """Events Asterisk sends in any case (dialplan steps), each stamped as it is written."""
    k = 0
    while not stop.is_set():
        k += 1
        peer.send((f"Event: Newexten\r\nChannel: PJSIP/heavy-{k}\r\nContext: cc-in\r\n"
                   f"Extension: s\r\nPriority: 1\r\nApplication: NoOp\r\n"
                   f"Linkedid: heavy-ami-{k}\r\nUniqueid: heavy-ami-{k}\r\n"
                   f"Timestamp: {time.time():.6f}\r\n\r\n").encode())
        await asyncio.sleep(1 / AMI_EVENTS_PER_SECOND)


async def lag_buckets(http: httpx.AsyncClient) -> tuple[list[tuple[float, int]], float]:
    """(cumulative bucket counts, worst) of the service's AMI event lag histogram."""
    text = (await http.get("/metrics")).text
    buckets = [(float("inf") if bound == "+Inf" else float(bound), int(float(count)))
               for bound, count in re.findall(
                   r'^callcenter_ami_event_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', text,
                   re.MULTILINE)]
    worst = re.search(r"^callcenter_ami_event_lag_seconds_max (\S+)$", text, re.MULTILINE)
    assert buckets and worst, "the service exposes no AMI event lag"
    return buckets, float(worst.group(1))


def lag_p99(before: list[tuple[float, int]], after: list[tuple[float, int]]) -> float:
    """The upper bound of the bucket holding the 99th percentile, of the events in between."""
    counts = [(bound, a - b) for (bound, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    assert total > 0, "no AMI event was handled"
    return next(bound for bound, count in counts if count >= 0.99 * total)


def contacts_csv(prefix: str) -> bytes:
    """`prefix`: the numbers' operator code, so that each run imports new contacts."""
    lines = ["ФИО;Телефон;E-mail"] + [
        f"Клиент {i};+7 {prefix} {i // 10000:03d}-{i % 10000:04d};heavy{prefix}-{i}@example.com"
        for i in range(IMPORT_ROWS)]
    return "\n".join(lines).encode()


async def web_load(http: httpx.AsyncClient, recording_id: int, upload: bytes
                   ) -> dict[str, float]:
    done = asyncio.Event()

    async def import_contacts() -> float:
        started = time.perf_counter()
        response = await http.post("/contacts/import", files={"file": ("heavy.csv", upload)})
        response.raise_for_status()
        return time.perf_counter() - started

    async def convert() -> int:
        async with http.stream("GET", f"/recordings/{recording_id}",
                               params={"format": "mp3"}) as response:
            async for _ in response.aiter_raw():
                pass
        return response.status_code

    async def export() -> tuple[int, float]:
        started, lines = time.perf_counter(), 0
        async with http.stream("GET", "/calls", params={"format": "csv",
                                                         "queue": EXPORT_QUEUE}) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                lines += chunk.count(b"\n")
        return lines - 1, time.perf_counter() - started  # less the header

    async def wrong_logins() -> dict[int, int]:
        statuses: dict[int, int] = {}
        attempts: set[asyncio.Task[None]] = set()

        async def one(k: int) -> None:
            username = "heavy-victim" if k % 2 else f"nobody-{k}"
            response = await http.post("/auth/login", json={"username": username,
                                                            "password": f"guess {k}"})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        k, next_at = 0, time.perf_counter()
        while not done.is_set():
            task = asyncio.create_task(one(k))
            attempts.add(task)
            task.add_done_callback(attempts.discard)
            k += 1
            next_at += 1 / WRONG_LOGINS_PER_SECOND
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*attempts)
        return statuses

    logins = asyncio.create_task(wrong_logins())
    started = time.perf_counter()
    imported, (exported, export_seconds), *statuses = await asyncio.gather(
        import_contacts(), export(), *(convert() for _ in range(CONVERSIONS)))
    load_seconds = time.perf_counter() - started
    done.set()
    login_statuses = await logins
    return {"import_seconds": imported, "exported": exported,
            "export_seconds": export_seconds, "converted": statuses.count(200),
            "refused": statuses.count(503), "load_seconds": load_seconds,
            "wrong_logins": sum(login_statuses.values()),
            "logins_401": login_statuses.get(401, 0), "logins_429": login_statuses.get(429, 0)}


async def agi_buckets(http: httpx.AsyncClient) -> list[tuple[float, int]]:
    """Cumulative bucket counts of the service's own timing of FastAGI lookup sessions (from
    its environment read to its status set), all statuses together."""
    text = (await http.get("/metrics")).text
    counts: dict[float, int] = {}
    for bound, count in re.findall(
            r'^callcenter_agi_session_duration_seconds_bucket\{le="([^"]+)",route="lookup",'
            r'status="[^"]+"\} (\S+)$', text, re.MULTILINE):
        key = float("inf") if bound == "+Inf" else float(bound)
        counts[key] = counts.get(key, 0) + int(float(count))
    return sorted(counts.items())


def measure(url: str, tmp: Path, token: str, recording_id: int, upload: bytes,
            settings: dict[str, str]) -> dict[str, object]:
    """One service run: lookups and AMI events with no web load, then under it."""
    http_port, agi_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"

    async def main() -> dict[str, object]:
        async with running_service(url, http_port, tmp, agi_port,
                                   {**SETTINGS, **settings}) as peer, \
                httpx.AsyncClient(base_url=base, timeout=600,
                                  headers={"Authorization": f"Bearer {token}"}) as http:
            while not any(a.get("Action") == "QueueStatus" for a in peer.actions):
                await asyncio.sleep(0.05)  # logged in and resynchronised
            stop_events = asyncio.Event()
            events = asyncio.create_task(ami_events(peer, stop_events))
            with Lookups(agi_port) as quiet_lookups:
                await asyncio.sleep(QUIET_SECONDS)
                quiet = await quiet_lookups.finish()
            lag_before, _ = await lag_buckets(http)
            agi_before = await agi_buckets(http)
            with Lookups(agi_port) as busy_lookups, DbLookups(url) as db_lookups:
                web = await web_load(http, recording_id, upload)
                busy = await busy_lookups.finish()
                probe_late = busy_lookups.late
                db = await db_lookups.finish()
            stop_events.set()
            await events
            lag_after, worst = await lag_buckets(http)
            agi_after = await agi_buckets(http)
            return {"quiet": quiet, "busy": busy, "web": web, "quiet_lag": lag_p99(
                [(b, 0) for b, _ in lag_before], lag_before),
                "busy_lag": lag_p99(lag_before, lag_after), "worst_lag": worst,
                "busy_agi": lag_p99(agi_before, agi_after), "probe_late": probe_late,
                "db": db}

    return asyncio.run(main())


def run(url: str, tmp_dir: str) -> list[Result]:
    tmp = Path(tmp_dir) / "heavy"
    (tmp / "recordings").mkdir(parents=True, exist_ok=True)
    write_wav(tmp / "recordings" / "heavy-five.wav", 300)  # five minutes
    token, recording_id = asyncio.run(prepare(url, tmp / "recordings" / "heavy-five.wav"))
    # the baseline of the design: FastAGI on the loop that serves the web, as before
    shared = measure(url, tmp, token, recording_id, contacts_csv("976"),
                     {"CALLCENTER_AGI_OWN_LOOP": "false"})
    m = measure(url, tmp, token, recording_id, contacts_csv("977"), {})
    name = "Telephony under web load"
    web = m["web"]
    quiet, busy = m["quiet"], m["busy"]
    assert isinstance(quiet, list) and isinstance(busy, list) and isinstance(web, dict)
    load_label = (f"{IMPORT_ROWS // 1000}k import + {web['wrong_logins'] / web['load_seconds']:.0f}"
                  f" wrong logins/s + {CONVERSIONS} mp3 + {EXPORT_ROWS // 1000}k CSV export")
    busy_p99 = percentile(busy, 99) * 1000
    busy_lag = float(m["busy_lag"]) * 1000  # type: ignore[arg-type]
    shared_busy = shared["busy"]
    assert isinstance(shared_busy, list)
    return [
        Result(name, f"FastAGI lookup p50, {LOOKUPS_PER_SECOND}/s ({load_label})",
               p50(busy) * 1000, "ms", "no web load", p50(quiet) * 1000),
        Result(name, f"FastAGI lookup p99, {LOOKUPS_PER_SECOND}/s ({load_label})", busy_p99,
               "ms", "no web load", percentile(quiet, 99) * 1000, "p99 < 50 ms",
               busy_p99 < 50),
        Result(name, "FastAGI lookup p99, same load, FastAGI on the web's loop (before)",
               percentile(shared_busy, 99) * 1000, "ms", "its own loop (as shipped)",
               busy_p99),
        Result(name, "FastAGI lookup p99 as the service times it (bucket bound), same load",
               float(m["busy_agi"]) * 1000, "ms", "on the web's loop",  # type: ignore[arg-type]
               float(shared["busy_agi"]) * 1000),  # type: ignore[arg-type]
        Result(name, f"FastAGI lookup max ({len(busy)} lookups)", max(busy) * 1000, "ms",
               "no web load", max(quiet) * 1000),
        Result(name, "the lookup's query alone (asyncpg, same rate, same load) p99",
               percentile(m["db"], 99) * 1000, "ms",  # type: ignore[arg-type]
               "in the run on the web's loop",
               percentile(shared["db"], 99) * 1000),  # type: ignore[arg-type]
        Result(name, "the load's toll on an idle process: the probe's own wake-up delay p99",
               percentile(m["probe_late"], 99) * 1000, "ms",  # type: ignore[arg-type]
               "in the run on the web's loop",
               percentile(shared["probe_late"], 99) * 1000),  # type: ignore[arg-type]
        Result(name, f"AMI event lag p99 (bucket bound), {AMI_EVENTS_PER_SECOND} events/s, "
               "same load", busy_lag, "ms", "no web load",
               float(m["quiet_lag"]) * 1000, "p99 < 100 ms", busy_lag < 100),  # type: ignore[arg-type]
        Result(name, "AMI event lag, worst of the run", float(m["worst_lag"]) * 1000, "ms",  # type: ignore[arg-type]
               "FastAGI on the web's loop", float(shared["worst_lag"]) * 1000),  # type: ignore[arg-type]
        Result(name, f"{IMPORT_ROWS // 1000}k-row CSV import, meanwhile",
               web["import_seconds"], "s", "in the run on the web's loop",
               shared["web"]["import_seconds"]),  # type: ignore[index]
        Result(name, f"CSV export of {web['exported']:,.0f} calls, meanwhile",
               web["export_seconds"], "s"),
        Result(name, "wrong logins answered 401 (a scrypt run each)", web["logins_401"],
               "logins"),
        Result(name, "wrong logins answered 429 by the throttle (no scrypt run)",
               web["logins_429"], "logins"),
        Result(name, f"mp3 conversions served of {CONVERSIONS} asked at once",
               web["converted"], "conversions", "refused (503 + Retry-After)",
               web["refused"]),
    ]
