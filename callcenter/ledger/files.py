"""Following a log file Asterisk appends to (queue_log, the CEL file), like `tail -F`, from a
remembered position, across rotation and truncation. Blocking file I/O: run it off the loop.

A position is the file's identity (device, inode) and a byte offset, so it still points at the
right bytes after the file was renamed by a rotation: a restart finds the renamed file by its
inode beside the new one, reads what it had not, then goes on with the new file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20  # a "line" longer than this is not Asterisk's: skipped


@dataclass(frozen=True, slots=True)
class FilePosition:
    device: int
    inode: int
    offset: int


@dataclass(frozen=True, slots=True, order=True)
class Mark:
    """Where a line starts, ordered across rotations within one run: (segment, offset)."""

    segment: int
    offset: int


class FileTail:
    def __init__(self, path: Path, start: FilePosition | None, *, from_start: bool = False) -> None:
        """`start`: the committed position; None: a first run, which begins at the end of the
        file (history is not imported) unless `from_start`."""
        self.path = path
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._segment = 0
        self._identities: dict[int, tuple[int, int]] = {}
        self._draining = False  # reading a rotated file to its end before the new one
        self._pending_start = start
        self._from_start = from_start
        self.skipped_lines = 0

    # -- positions -------------------------------------------------------------------------

    def position(self, mark: Mark) -> FilePosition:
        device, inode = self._identities[mark.segment]
        return FilePosition(device, inode, mark.offset)

    @property
    def started(self) -> bool:
        """Whether the file has been found and opened (positions exist only then)."""
        return self._identity is not None

    @property
    def end(self) -> Mark:
        """Just after the last whole line read."""
        return Mark(self._segment, self._offset)

    @property
    def caught_up(self) -> bool:
        """Whether everything written so far has been read (as of the last read)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return not self._draining
        return (not self._draining and (stat.st_dev, stat.st_ino) == self._identity
                and stat.st_size <= self._offset)

    # -- reading ---------------------------------------------------------------------------

    def read(self, max_bytes: int = 1 << 20) -> list[tuple[Mark, bytes]]:
        """Whole lines appended since the last read, each with where it starts."""
        if self._file is None and not self._open():
            return []
        assert self._file is not None
        lines = self._read_lines(max_bytes)
        if lines:
            return lines
        # nothing more here: has the file been rotated or truncated under us?
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []  # renamed, the new one not created yet: keep the old one open
        if (stat.st_dev, stat.st_ino) != self._identity:
            lines = self._read_lines(max_bytes)  # the last words written to the old file
            if lines:
                return lines
            log.info("ledger file rotated: going on with the new one",
                     extra={"file": str(self.path)})
            self._switch_to(self.path, 0)
            return self._read_lines(max_bytes)
        if stat.st_size < self._offset:
            log.warning("ledger file truncated: reading it from its start",
                        extra={"file": str(self.path), "offset": self._offset})
            self._switch_to(self.path, 0)
            return self._read_lines(max_bytes)
        return []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> bool:
        start, self._pending_start = self._pending_start, None
        if start is None:
            if not self.path.exists():
                return False
            offset = 0 if self._from_start else self.path.stat().st_size
            self._switch_to(self.path, offset, to_line_start=not self._from_start)
            return True
        found = self._find(start.device, start.inode)
        if found is None:
            log.error("the ledger file of the last position is gone: reading the current "
                      "one from its start; calls in between may be missing",
                      extra={"file": str(self.path)})
            if not self.path.exists():
                self._pending_start = FilePosition(0, 0, 0)  # start of the file when it comes
                return False
            self._switch_to(self.path, 0)
            return True
        size = found.stat().st_size
        if size < start.offset:
            log.warning("ledger file shorter than the last position (truncated): reading it "
                        "from its start", extra={"file": str(found)})
        self._switch_to(found, start.offset if size >= start.offset else 0)
        self._draining = found != self.path
        return True

    def _find(self, device: int, inode: int) -> Path | None:
        """The file with this identity: the path itself, or a rotated sibling (name.1, ...)."""
        candidates = [self.path, *sorted(self.path.parent.glob(self.path.name + ".*"))]
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except FileNotFoundError:
                continue
            if (stat.st_dev, stat.st_ino) == (device, inode):
                return candidate
        return None

    def _switch_to(self, path: Path, offset: int, to_line_start: bool = False) -> None:
        self.close()
        self._file = path.open("rb")
        stat = os.fstat(self._file.fileno())
        self._identity = (stat.st_dev, stat.st_ino)
        if self._identities:
            self._segment += 1
        self._identities[self._segment] = self._identity
        if to_line_start and offset:
            offset = _line_start(self._file, offset)
        self._offset = offset
        self._file.seek(offset)
        self._draining = False

    def _read_lines(self, max_bytes: int) -> list[tuple[Mark, bytes]]:
        assert self._file is not None
        self._file.seek(self._offset)
        data = self._file.read(max_bytes)
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) >= MAX_LINE:  # no end of line in sight: not a log line
                self._offset += len(data)
                self.skipped_lines += 1
            return []  # nothing, or a line still being written
        lines = []
        start = 0
        for line in data[:cut + 1].split(b"\n")[:-1]:
            lines.append((Mark(self._segment, self._offset + start), line))
            start += len(line) + 1
        self._offset += cut + 1
        return lines


def _line_start(file: BinaryIO, offset: int) -> int:
    """The start of the line holding `offset`'s byte before it: where a first run begins."""
    back = min(offset, 4096)
    file.seek(offset - back)
    chunk = file.read(back)
    newline = chunk.rfind(b"\n")
    return offset - back + newline + 1 if newline >= 0 else offset
