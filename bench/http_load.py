"""A load generator for a separate process: keep-alive HTTP/1.1 GETs over loopback, and the
same lookup as raw asyncpg queries, each returning its latencies."""

from __future__ import annotations

import asyncio
import random
import time
from urllib.parse import quote

import asyncpg

from bench.populate import number, raw_dsn

FORMATS = [
    lambda n: f"+7 {n[2:5]} {n[5:8]}-{n[8:10]}-{n[10:]}",
    lambda n: "8" + n[2:],
    lambda n: n[1:],
    lambda n: n,
    lambda n: "00" + n[1:],
]


def written(rng: random.Random, contacts: int) -> str:
    return rng.choice(FORMATS)(number(rng.randrange(1, contacts + 1)))


async def _http_worker(host: str, port: int, token: str, contacts: int, deadline: float,
                       seed: int, latencies: list[float]) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            path = f"/screenpop?number={quote(written(rng, contacts))}"
            request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                       f"Authorization: Bearer {token}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"screen pop answered {status!r}")
    finally:
        writer.close()


def http_load(host: str, port: int, token: str, contacts: int, seconds: float,
              concurrency: int) -> list[float]:
    async def main() -> list[float]:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_http_worker(host, port, token, contacts, deadline, seed,
                                            latencies) for seed in range(concurrency)))
        return latencies
    return asyncio.run(main())


# The same lookup done the fastest way one query can: contact and last calls, on the same
# indexes the service uses.
RAW_LOOKUP = """
SELECT c.id, c.name, c.vip,
       (SELECT json_agg(x) FROM (
          (SELECT id, started_at, outcome, agent, queue FROM calls WHERE caller = $1
           ORDER BY started_at DESC LIMIT 5)
          UNION ALL
          (SELECT id, started_at, outcome, agent, queue FROM calls WHERE called = $1
           ORDER BY started_at DESC LIMIT 5)
          ORDER BY started_at DESC LIMIT 5) x) AS last_calls
FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id WHERE n.number = $1
"""


def raw_load(url: str, contacts: int, seconds: float, concurrency: int) -> list[float]:
    async def main() -> list[float]:
        pool = await asyncpg.create_pool(raw_dsn(url), min_size=concurrency,
                                         max_size=concurrency)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await pool.fetchrow(RAW_LOOKUP, number(rng.randrange(1, contacts + 1)))
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(s) for s in range(concurrency)))
        await pool.close()
        return latencies
    return asyncio.run(main())
