"""Process-wide tuning for a long-running service."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

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
