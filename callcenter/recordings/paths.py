"""Where recordings live: <recordings>/<yyyy>/<mm>/<dd>/<linkedid>.<format>.

Beside the mixed file, MixMonitor writes each direction to its own track, named by who
speaks on it: <day>/tracks/<linkedid>.agent.<format> and <linkedid>.customer.<format>. A
track's path is derived from its recording's, so whatever deletes a recording (retention,
forget-me, unanswered calls, opted-out callers, the orphan sweep) deletes its tracks too
(`with_tracks`). Tracks live in a sub-folder: the orphan sweep only looks at a day's files.

Paths are built here from the Linkedid, never taken from a request."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

_SAFE_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
TRACKS = "tracks"
SPEAKERS = ("agent", "customer")


def recording_path(root: Path, linkedid: str, when: datetime, fmt: str) -> Path:
    if not _SAFE_ID.match(linkedid) or linkedid.startswith("."):
        raise ValueError("linkedid is not safe as a file name")
    return root.resolve() / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / f"{linkedid}.{fmt}"


def track_path(recording: str | Path, speaker: str) -> Path:
    """The file of one direction (`speaker`: agent or customer) of a recording."""
    if speaker not in SPEAKERS:
        raise ValueError(f"unknown speaker {speaker!r}")
    path = Path(recording)
    return path.parent / TRACKS / f"{path.stem}.{speaker}{path.suffix}"


def track_paths(recording: str | Path) -> dict[str, Path]:
    return {speaker: track_path(recording, speaker) for speaker in SPEAKERS}


def with_tracks(recording: str | Path) -> list[Path]:
    """The recording's file and its tracks' (which may not exist): what deleting it deletes."""
    return [Path(recording), *track_paths(recording).values()]


def delete_recordings(paths: Iterable[str | Path]) -> None:
    """Deletes recordings' files with their tracks (blocking: call it in a thread). The one
    way every deleter (retention, forget-me, unanswered, opted out, sweep) removes audio."""
    for path in paths:
        for file in with_tracks(path):
            file.unlink(missing_ok=True)


def mixmonitor_options(recording: Path, read_speaker: str) -> str:
    """MixMonitor's options writing each direction to its track. MixMonitor runs on one
    channel: `r()` is what that channel sends us (the caller on inbound calls, the agent's
    phone on calls it places), `t()` what it hears (the other side)."""
    other = SPEAKERS[1] if read_speaker == SPEAKERS[0] else SPEAKERS[0]
    return f"r({track_path(recording, read_speaker)})t({track_path(recording, other)})"
