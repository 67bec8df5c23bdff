"""Where heavy work runs: never on the event loop that answers Asterisk.

Parsing an import is pure Python that holds the GIL; in a thread it still slows the loop (the
loop waits up to the 5 ms switch interval each time it wants the GIL back), so imports go to a
small process pool (the measurement is in the README). Conversions are ffmpeg processes.
Both are bounded: beyond the bound a request is refused with `Busy` (HTTP 503 + Retry-After)
rather than queued without limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


# Heavy web work yields the CPU to the process that answers Asterisk (on 2 cores, a parse and
# four ffmpeg took FastAGI lookups from 7 ms to 288 ms at p99 at the same priority).
BACKGROUND_NICENESS = 10


class Busy(Exception):
    """All slots for this kind of work are taken: try again after `retry_after` seconds."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"too many {what} at once; try again in {retry_after} s")
        self.what = what
        self.retry_after = retry_after


class WorkerLost(Busy):
    """A worker process died (killed, out of memory); the next call starts a new one."""

    def __init__(self) -> None:
        Exception.__init__(self, "the worker process stopped; try again")
        self.what = "workers"
        self.retry_after = 1


class Slots:
    """At most `limit` at once; taking one never waits."""

    def __init__(self, what: str, limit: int, retry_after: int = 5) -> None:
        self.what = what
        self.limit = limit
        self.retry_after = retry_after
        self.running = 0

    def take(self) -> Slot:
        if self.running >= self.limit:
            raise Busy(self.what, self.retry_after)
        self.running += 1
        return Slot(self)


class Slot:
    """Held until released (once) or used as a context manager."""

    def __init__(self, slots: Slots) -> None:
        self._slots: Slots | None = slots

    def release(self) -> None:
        if self._slots is not None:
            self._slots.running -= 1
            self._slots = None

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Workers:
    """The worker processes for CPU-bound web work, started on first use. Each may use at
    most `memory_limit` bytes of address space: a pathological file ends in MemoryError
    there, not in the machine swapping under the telephony process."""

    def __init__(self, processes: int = 1, memory_limit: int = 2 * 2**30) -> None:
        self.processes = processes
        self.memory_limit = memory_limit
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args)` in a worker process (it and its arguments must pickle)."""
        if self._pool is None:
            # spawn, not fork: the service has threads (database drivers, file I/O) that a
            # forked child would inherit mid-operation
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_setup, initargs=(self.memory_limit,))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _call, function, args, kwargs)
        except BrokenProcessPool:
            self.shutdown()
            raise WorkerLost() from None

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _worker_setup(memory_limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    os.nice(BACKGROUND_NICENESS)


def _call(function: Callable[..., T], args: tuple[object, ...],
          kwargs: dict[str, object]) -> T:
    return function(*args, **kwargs)
