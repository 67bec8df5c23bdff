"""Recordings converted on the fly by an ffmpeg process, streamed: no whole file in memory,
nothing on the event loop. How many run at once is bounded by the caller (Service.conversions)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.workers import BACKGROUND_NICENESS

FORMATS = {"mp3": ["-f", "mp3", "-codec:a", "libmp3lame", "-q:a", "5"],
           "ogg": ["-f", "ogg", "-codec:a", "libvorbis", "-q:a", "4"]}


async def convert(path: Path, format: str) -> AsyncIterator[bytes]:
    """The recording in `format`, as ffmpeg produces it; the process is killed if the
    consumer stops early."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), *FORMATS[format], "-",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    with contextlib.suppress(ProcessLookupError):  # the telephony process comes first
        os.setpriority(os.PRIO_PROCESS, process.pid, BACKGROUND_NICENESS)
    try:
        while chunk := await process.stdout.read(65536):
            yield chunk
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
