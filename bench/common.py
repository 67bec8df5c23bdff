"""What the benchmarks share: the rig (PostgreSQL, Asterisk), timing, the result table."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from callcenter.migrate import upgrade
from tests.rig import Postgres

DATA = Path(__file__).parent / "data"


@dataclass
class Result:
    benchmark: str
    metric: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    target: str | None = None
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0) or self.value is None:
            return None
        return self.value / self.baseline_value  # type: ignore[operator]

    def row(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def p50(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def postgres() -> Iterator[str]:
    base = Path(tempfile.mkdtemp(prefix="callcenter-bench-pg-"))
    pg = Postgres(base)
    pg.start()
    try:
        upgrade(pg.url)
        yield pg.url
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


def ami_trace() -> bytes:
    """The recorded real AMI stream, greeting removed."""
    data = gzip.decompress((DATA / "queue-calls.ami.gz").read_bytes())
    greeting, _, rest = data.partition(b"\r\n")
    return rest if greeting.startswith(b"Asterisk Call Manager") else data


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


async def gather_limited(coros, limit: int):
    semaphore = asyncio.Semaphore(limit)

    async def run(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))
