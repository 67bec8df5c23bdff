"""Process-wide tuning for a long-running service."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def settle() -> None:
    """Once the service has started.

    glibc serves blocks above its mmap threshold with mmap, returned to the system on free,
    but it raises the threshold to the largest such block freed (up to 32 MiB). After the first
    1 MiB download chunk, chunks came from the per-thread arenas of the file-reading threads,
    which keep what they had: RSS stayed 20-40 MB up after rounds of 20 parallel 50 MB
    downloads. A fixed 256 KiB threshold keeps every chunk an mmap: +5 MB (bench/memory.py).

    What is loaded by now lives as long as the process: the collector's full passes skip it
    (gc.freeze). They took 85 ms, a stalled event loop, during a 100k-row import without it.
    """
    name = ctypes.util.find_library("c")
    if name is not None:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "mallopt"):  # glibc; musl and others have none
            libc.mallopt(_M_MMAP_THRESHOLD, 256 * 1024)
    gc.freeze()


class LoopThread:
    """An event loop of its own, in a thread of its own: for FastAGI, so that a caller's
    exchange with the service never waits in line behind the web's callbacks on the main
    loop (an import's batches, an export's rows, twenty streams of conversions). Objects
    bound to a loop (servers, database connections) are made and closed on this one: `run`.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # The GIL is still shared: a thread that wants it waits for the holder to drop it,
        # forced after the switch interval. 1 ms instead of 5 bounds each of a FastAGI
        # session's wake-ups behind the web's Python work.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        ready = threading.Event()

        def serve() -> None:
            loop = _new_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs `coro` on this thread's loop; awaited from another loop."""
        assert self.loop is not None, "start() first"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop = self._thread = None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # uvloop is in uvicorn[standard]; without it, asyncio's own
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
