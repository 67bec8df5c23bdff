"""A load generator for a separate process: keep-alive HTTP/1.1 GETs over loopback, and the
same lookup as raw asyncpg queries, each returning its latencies; closed loop (saturation) and
open loop (a steady offered rate)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import asyncpg

from bench.populate import number, raw_dsn
from callcenter.contacts.screenpop import POP_SERVER_SETTINGS

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


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _open_loop(rate: float, seconds: float, request: Callable[[random.Random],
                                                                     Awaitable[None]]
                     ) -> list[float]:
    """Open loop: request k is due at start + k/rate whether or not earlier ones have been
    answered, and its latency counts from when it was due (a late sender or a queue for a
    connection counts against the server, as a real client would see it)."""
    rng = random.Random(7)
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        await request(rng)
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter() + 0.1
    for k in range(int(rate * seconds)):
        due = start + k / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return latencies


def http_open_loop(host: str, port: int, token: str, contacts: int, rate: float,
                   seconds: float, connections: int = 32) -> list[float]:
    """GET /screenpop at `rate` a second, open loop, over up to `connections` keep-alive
    connections (a request waits for a free one: that wait is part of its latency)."""
    async def main() -> list[float]:
        idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue()
        for _ in range(connections):
            idle.put_nowait(await asyncio.open_connection(host, port))

        async def request(rng: random.Random) -> None:
            path = f"/screenpop?number={quote(written(rng, contacts))}"
            reader, writer = await idle.get()
            try:
                writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
                              f"Authorization: Bearer {token}\r\n\r\n").encode())
                status = await _read_response(reader)
            finally:
                idle.put_nowait((reader, writer))
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"screen pop answered {status!r}")

        try:
            return await _open_loop(rate, seconds, request)
        finally:
            while not idle.empty():
                idle.get_nowait()[1].close()
    return asyncio.run(main())


def raw_open_loop(url: str, contacts: int, rate: float, seconds: float, sql: str,
                  connections: int = 8) -> list[float]:
    """The service's own pop statement at `rate` a second, open loop, straight on asyncpg
    (with the service's connection settings)."""
    async def main() -> list[float]:
        pool = await asyncpg.create_pool(raw_dsn(url), min_size=connections,
                                         max_size=connections,
                                         server_settings=POP_SERVER_SETTINGS)

        async def request(rng: random.Random) -> None:
            await pool.fetchrow(sql, number(rng.randrange(1, contacts + 1)))

        try:
            return await _open_loop(rate, seconds, request)
        finally:
            await pool.close()
    return asyncio.run(main())


def raw_saturation(url: str, contacts: int, seconds: float, sql: str,
                   concurrency: int) -> list[float]:
    """The service's own pop statement, closed loop: as many as `concurrency` at once."""
    async def main() -> list[float]:
        pool = await asyncpg.create_pool(raw_dsn(url), min_size=concurrency,
                                         max_size=concurrency,
                                         server_settings=POP_SERVER_SETTINGS)
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await pool.fetchrow(sql, number(rng.randrange(1, contacts + 1)))
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(s) for s in range(concurrency)))
        await pool.close()
        return latencies
    return asyncio.run(main())
