"""pydub (named by the service's design) against the service's streamed ffmpeg, converting a
recording to mp3: time to the first byte a listener gets, time in all, and the Python
process's peak memory. A one-off measurement for the README's Dependencies section (pydub is
not a dependency: `pip install --target DIR pydub` and put DIR on PYTHONPATH):

    python -m bench.pydub_compare
"""

from __future__ import annotations

import asyncio
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.service_api import write_wav


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def with_pydub(path: str) -> None:
    from pydub import AudioSegment

    before, started = _peak_mb(), time.perf_counter()
    out = io.BytesIO()
    AudioSegment.from_wav(path).export(out, format="mp3", parameters=["-q:a", "5"])
    total = time.perf_counter() - started
    # pydub hands back nothing before the whole file is converted
    print(f"{total:.3f} {total:.3f} {_peak_mb() - before:.1f} {len(out.getvalue())}")


def streamed(path: str) -> None:
    from callcenter.recordings.convert import convert

    async def main() -> tuple[float, float, int]:
        started, first, size = time.perf_counter(), None, 0
        async for chunk in convert(Path(path), "mp3"):
            first = first or time.perf_counter() - started
            size += len(chunk)
        return first or 0.0, time.perf_counter() - started, size

    before = _peak_mb()
    first, total, size = asyncio.run(main())
    print(f"{first:.3f} {total:.3f} {_peak_mb() - before:.1f} {size}")


def main() -> None:
    if len(sys.argv) == 3:  # a child measuring one way
        {"pydub": with_pydub, "streamed": streamed}[sys.argv[1]](sys.argv[2])
        return
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (5, 55):  # 4.8 and 53 MB of 8 kHz 16-bit audio
            wav = Path(tmp) / f"{minutes}.wav"
            write_wav(wav, minutes * 60)
            for way in ("streamed", "pydub"):
                out = subprocess.run([sys.executable, "-m", "bench.pydub_compare", way,
                                      str(wav)], capture_output=True, text=True, check=True)
                first, total, peak, size = out.stdout.split()
                print(f"{minutes} min ({wav.stat().st_size / 1e6:.1f} MB wav) {way}: first "
                      f"byte {first} s, all {total} s, +{peak} MB peak RSS, "
                      f"{int(size) / 1e6:.1f} MB mp3")


if __name__ == "__main__":
    main()
