"""Where recordings live: <recordings>/<yyyy>/<mm>/<dd>/<linkedid>.<format>.

Paths are built here from the Linkedid, never taken from a request."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

_SAFE_ID = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


def recording_path(root: Path, linkedid: str, when: datetime, fmt: str) -> Path:
    if not _SAFE_ID.match(linkedid) or linkedid.startswith("."):
        raise ValueError("linkedid is not safe as a file name")
    return root.resolve() / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / f"{linkedid}.{fmt}"
