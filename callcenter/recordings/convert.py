"""Recordings converted on the fly by an ffmpeg process, streamed: no whole file in memory,
nothing on the event loop. How many run at once is bounded by the caller (Service.conversions).

ffmpeg is started from a thread by `subprocess.Popen` (vfork + exec), not by the loop's
`create_subprocess_exec`: uvloop forks, and forking the service's few hundred MB stalled the
loop 40-50 ms a conversion (telephony's AMI events waited behind it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from callcenter.workers import BACKGROUND_NICENESS

FORMATS = {"mp3": ["-f", "mp3", "-codec:a", "libmp3lame", "-q:a", "5"],
           "ogg": ["-f", "ogg", "-codec:a", "libvorbis", "-q:a", "4"]}


async def convert(path: Path, format: str) -> AsyncIterator[bytes]:
    """The recording in `format`, as ffmpeg produces it; the process is killed if the
    consumer stops early."""
    process = await asyncio.to_thread(
        subprocess.Popen,
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), *FORMATS[format], "-"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    with contextlib.suppress(ProcessLookupError):  # the telephony process comes first
        os.setpriority(os.PRIO_PROCESS, process.pid, BACKGROUND_NICENESS)
    stdout = asyncio.StreamReader()
    transport: asyncio.BaseTransport | None = None
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), process.stdout)
        while chunk := await stdout.read(65536):
            yield chunk
    finally:
        if transport is not None:
            transport.close()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await asyncio.to_thread(process.wait)
