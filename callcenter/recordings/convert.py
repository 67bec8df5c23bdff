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
    process = await _spawn(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), *FORMATS[format], "-"])
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


async def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    """ffmpeg started in a thread; killed if the request is cancelled meanwhile (the thread
    finishes starting it all the same: nobody would read its output or stop it)."""
    spawning = asyncio.ensure_future(asyncio.to_thread(
        subprocess.Popen, args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL))
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        spawning.add_done_callback(_kill_started)
        raise


def _kill_started(spawning: asyncio.Future[subprocess.Popen[bytes]]) -> None:
    if not spawning.cancelled() and spawning.exception() is None:
        process = spawning.result()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.stdout.close()  # type: ignore[union-attr]
