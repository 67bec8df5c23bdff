"""Speech for tests, synthesised with espeak-ng (Debian) and made telephone audio (8 kHz,
16-bit mono) with sox: a sentence whose phrase starts at a known second."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def speech_with_phrase(folder: Path, before: str, phrase: str, after: str = "",
                       voice: str = "en-us") -> tuple[Path, float]:
    """A WAV saying `before`, then `phrase` (and `after`); and the second the phrase starts."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (scripts/system-deps.sh test)")
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / "first.wav", folder / "second.wav"
    for path, text in ((first, before), (second, f"{phrase}. {after}")):
        subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(path), text],
                       check=True, capture_output=True)
    out = folder / "speech.wav"
    # the second part's own leading silence is trimmed: the phrase starts where it is joined
    trimmed = folder / "second-trimmed.wav"
    subprocess.run(["sox", str(second), str(trimmed), "silence", "1", "0.02", "1%"],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(first), str(trimmed), "-r", "8000", "-c", "1", "-b", "16",
                    str(out)], check=True, capture_output=True)
    out.chmod(0o644)
    return out, _seconds(first)
