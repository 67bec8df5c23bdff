"""What the recordings table says of a file: its size and, for WAV, its duration."""

from __future__ import annotations

import wave
from datetime import datetime
from pathlib import Path


def recording_row(linkedid: str, path: str, created_at: datetime) -> dict[str, object]:
    """A `recordings` row for a file (blocking: stats the file; call it off the loop)."""
    file = Path(path)
    size = duration = None
    try:
        size = file.stat().st_size
        if file.suffix.lower() == ".wav":
            with wave.open(str(file)) as wav:
                duration = round(wav.getnframes() / float(wav.getframerate()), 3)
    except (OSError, wave.Error, EOFError, ZeroDivisionError):
        pass  # Asterisk may still be closing the file; size/duration stay unknown
    return {"linkedid": linkedid, "path": path,
            "format": file.suffix.lstrip(".").lower() or "wav",
            "size_bytes": size, "duration_seconds": duration, "created_at": created_at}
