"""Where an import's parsing should run: inline, in a thread or in a worker process.

Parses a 100k-row CSV while the loop serves socket round trips (what a FastAGI exchange is
made of) and a 1 ms ticker; prints the loop's worst lag and the round trips' p50/p99.
`python -m bench.offload`
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import tempfile
import time
from pathlib import Path

from callcenter.contacts.importer import parse_file
from callcenter.workers import Workers


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write("ФИО;Телефон;E-mail;Комментарий\n")
        for i in range(rows):
            file.write(f"Клиент {i};+7 916 {i // 10000:03d}-{i % 10000:04d};c{i}@example.com;"
                       f"note {i}\n")


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - before - 0.001)


async def _round_trips(stop: asyncio.Event, times: list[float]) -> None:
    """A peer thread echoes; the loop writes a line and awaits the answer, 200 times a second."""
    left, right = socket.socketpair()

    def echo() -> None:
        with right:
            while data := right.recv(4096):
                right.sendall(data)

    echoing = asyncio.get_running_loop().run_in_executor(None, echo)
    reader, writer = await asyncio.open_connection(sock=left)
    while not stop.is_set():
        before = time.perf_counter()
        writer.write(b"GET VARIABLE X\n")
        await reader.readline()
        times.append(time.perf_counter() - before)
        await asyncio.sleep(0.005)
    writer.close()
    await echoing


async def measure(mode: str, csv: Path, spool: Path, workers: Workers) -> dict[str, float]:
    stop = asyncio.Event()
    lags: list[float] = []
    trips: list[float] = []
    tasks = [asyncio.create_task(_ticker(stop, lags)),
             asyncio.create_task(_round_trips(stop, trips))]
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    args = (csv, "big.csv", None, "RU", spool)
    if mode == "inline":
        parse_file(*args)
    elif mode == "thread":
        await asyncio.to_thread(parse_file, *args)
    else:
        await workers.run(parse_file, *args)
    took = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    trips.sort()
    return {"parse_s": took, "max_lag_ms": max(lags) * 1000,
            "rtt_p50_ms": statistics.median(trips) * 1000,
            "rtt_p99_ms": trips[int(len(trips) * 0.99) - 1] * 1000, "round_trips": len(trips)}


async def main() -> None:
    workers = Workers(1)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        make_csv(csv, 100_000)
        await workers.run(time.sleep, 0)  # the worker started, as in a running service
        for mode in ("inline", "thread", "process"):
            figures = await measure(mode, csv, Path(tmp) / "spool", workers)
            print(mode, " ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    workers.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
