"""Records on disk: the spill file (records waiting for the database) and the dead-letter file
(records it refused), both as JSON lines with field names, so they survive an upgrade.

A line is `{"type": "CallRecord", "linkedid": ..., ...}`: datetimes ISO-8601 with their offset,
nested records (legs, queue entries) as lists of objects. Lines are restored by field name,
driven by the dataclass's own type hints, so a new field needs no change here: a field missing
in an old line takes its default (or None), a field this version does not know is ignored with
a warning, and nothing ever shifts into another column (which is what unpickling frozen slots
dataclasses, restored by position, did). Library decoders (pydantic, msgspec) refuse a missing
required field instead of taking None, hence these few lines.

Every spill-file operation (append, read back, count, rewrite) runs on the spool's one thread,
in the order it was asked for; the count of records on disk lives on the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import logging
import types
import typing
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger(__name__)


class UndecodableRecord(ValueError):
    """A line that is no record this version knows (bad JSON, unknown type)."""


class RecordCodec:
    """Dataclass records to JSON-able dicts and back, by field name."""

    def __init__(self, record_types: tuple[type, ...]) -> None:
        self.types = {cls.__name__: cls for cls in record_types}
        self._hints: dict[type, dict[str, Any]] = {}
        self._warned: set[tuple[str, str]] = set()

    def encode(self, record: object) -> dict[str, object]:
        return {"type": type(record).__name__, **_encode_fields(record)}

    def dumps(self, record: object) -> str:
        return json.dumps(self.encode(record), ensure_ascii=False, separators=(",", ":"))

    def decode(self, data: object) -> Any:
        if not isinstance(data, dict):
            raise UndecodableRecord(f"not a JSON object: {type(data).__name__}")
        cls = self.types.get(data.get("type"))  # type: ignore[arg-type]
        if cls is None:
            raise UndecodableRecord(f"unknown record type {data.get('type')!r}")
        try:
            return self._build(cls, data, skip=("type",))
        except (TypeError, ValueError) as exc:
            raise UndecodableRecord(f"{cls.__name__}: {exc}") from exc

    def loads(self, line: str) -> Any:
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise UndecodableRecord(f"not JSON: {exc}") from None
        return self.decode(data)

    def _build(self, cls: type, data: dict[str, Any], skip: tuple[str, ...] = ()) -> Any:
        hints = self._hints.get(cls)
        if hints is None:
            hints = self._hints[cls] = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        for name in data.keys() - known - set(skip):
            if (cls.__name__, name) not in self._warned:
                self._warned.add((cls.__name__, name))
                log.warning("unknown field in a stored record ignored",
                            extra={"record_type": cls.__name__, "field": name})
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                values[f.name] = self._value(hints[f.name], data[f.name])
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                values[f.name] = f.default_factory()
            else:
                values[f.name] = None  # a field added after the line was written
        return cls(**values)

    def _value(self, hint: Any, value: Any) -> Any:
        if value is None:
            return None
        origin = typing.get_origin(hint)
        if origin is typing.Union or origin is types.UnionType:
            options = [a for a in typing.get_args(hint) if a is not type(None)]
            return self._value(options[0], value) if len(options) == 1 else value
        if origin is tuple or origin is list:
            args = typing.get_args(hint)
            item = args[0] if args else Any
            items = [self._value(item, v) for v in value]
            return tuple(items) if origin is tuple else items
        if hint is datetime:
            return datetime.fromisoformat(value)
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            return self._build(hint, value)  # type: ignore[arg-type]
        return value


def _encode_fields(record: object) -> dict[str, object]:
    return {f.name: _encode(getattr(record, f.name))
            for f in dataclasses.fields(record)}  # type: ignore[arg-type]


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_fields(value)
    return value


@dataclass(frozen=True, slots=True)
class _Taken:
    """What one read-back found: records, lines it could not decode, lines consumed."""

    records: list[Any]
    bad: list[tuple[str, str]]  # (line, why)
    consumed: int
    at_end: bool
    puts_before: int


class Spool:
    """Records waiting on disk, oldest first. Appends are queued at once (the caller never
    waits); reads and rewrites are awaited. One thread does all the file work."""

    def __init__(self, path: Path, codec: RecordCodec, *,
                 on_undecodable: Callable[[str, str], None],
                 on_unspilled: Callable[[list[Any]], None]) -> None:
        """`on_undecodable(line, why)` gets a line read back that is no record;
        `on_unspilled(records)` gets records the disk refused (full), to keep in memory."""
        self.path = path
        self._codec = codec
        self._on_undecodable = on_undecodable
        self._on_unspilled = on_unspilled
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="record-spool")
        self._reader: TextIO | None = None  # spool thread only
        self._taking: asyncio.Future[_Taken] | None = None
        self._puts = 0
        # records on disk not yet read back; some may be left by a previous run
        self.count = self._executor.submit(self._count_lines).result()

    def put(self, records: list[Any]) -> None:
        """Queues records behind all others; returns at once."""
        self.count += len(records)
        self._puts += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._append,
                                                            records)
        future.add_done_callback(lambda f: self._append_failed(f, records))

    async def take(self, limit: int) -> list[Any]:
        """Up to `limit` of the oldest records. A read cancelled half-way loses nothing: the
        next take() or put_ahead() collects what it found."""
        if self._taking is None:
            self._taking = asyncio.get_running_loop().run_in_executor(
                self._executor, self._read, limit, self._puts)
        taken = await asyncio.shield(self._taking)
        self._taking = None
        return self._absorb(taken)

    async def put_ahead(self, records: list[Any]) -> None:
        """Records older than all on disk (memory at shutdown) go in front of them."""
        if self._taking is not None:  # a read-back cut short: its records come next
            records = records + self._absorb(await self._taking)
            self._taking = None
        if not records:
            return
        self.count += len(records)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._prepend,
                                                         records)

    async def close(self) -> None:
        """Waits for the file work already asked for, then lets the thread go."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_reader)
        self._executor.shutdown(wait=False)

    def _absorb(self, taken: _Taken) -> list[Any]:
        self.count -= taken.consumed
        for line, why in taken.bad:
            self._on_undecodable(line, why)
        if taken.at_end and self.count and taken.puts_before == self._puts:
            log.error("spill file shorter than counted; nothing more to read back",
                      extra={"file": str(self.path), "missing": self.count})
            self.count = 0
        if not self.count:
            self._executor.submit(self._remove)  # behind the read, ahead of any new append
        return taken.records

    def _append_failed(self, future: asyncio.Future[None], records: list[Any]) -> None:
        if future.cancelled() or future.exception() is None:
            return
        log.error("could not spill records to disk; they stay in memory",
                  extra={"file": str(self.path), "records": len(records),
                         "error": repr(future.exception())})
        self.count -= len(records)
        self._on_unspilled(records)

    # -- the spool thread ------------------------------------------------------------------

    def _count_lines(self) -> int:
        if not self.path.exists():
            return 0
        count = 0
        with self.path.open("rb+") as file:
            for line in file:
                count += bool(line.strip())
                last = line
            if count and not last.endswith(b"\n"):
                file.write(b"\n")  # a line cut by a crash: new lines must not join it
        if not count:
            self.path.unlink()
        return count

    def _append(self, records: list[Any]) -> None:
        lines = "".join(self._codec.dumps(r) + "\n" for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(lines)

    def _read(self, limit: int, puts_before: int) -> _Taken:
        if self._reader is None:
            try:
                self._reader = self.path.open(encoding="utf-8")
            except FileNotFoundError:
                return _Taken([], [], 0, True, puts_before)
        records: list[Any] = []
        bad: list[tuple[str, str]] = []
        consumed = 0
        at_end = False
        while consumed < limit:
            line = self._reader.readline()
            if not line:
                at_end = True
                break
            if not line.strip():
                continue
            consumed += 1
            try:
                records.append(self._codec.loads(line))
            except UndecodableRecord as exc:
                bad.append((line.rstrip("\n"), str(exc)))
        return _Taken(records, bad, consumed, at_end, puts_before)

    def _prepend(self, records: list[Any]) -> None:
        if self._reader is not None:
            rest = self._reader.read()
            self._close_reader()
        else:
            rest = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as file:
            file.writelines(self._codec.dumps(r) + "\n" for r in records)
            file.write(rest)
        partial.replace(self.path)

    def _remove(self) -> None:
        self._close_reader()
        self.path.unlink(missing_ok=True)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


@dataclass(frozen=True, slots=True)
class Replayed:
    """One dead letter after a replay: written (error None) or still refused, and why."""

    line: int
    type: str
    key: str
    error: str | None


class DeadLetters:
    """Records the database refused, one JSON line each: {"type", "error", "record"}, the
    record in the spill file's encoding. The service appends; `callcenter spool replay`
    rewrites. A lock file beside it keeps the two apart (each holds it only for file work)."""

    def __init__(self, path: Path, codec: RecordCodec) -> None:
        self.path = path
        self._codec = codec
        self._lock = path.with_name(path.name + ".lock")

    def add(self, record_type: str, error: str, record: object) -> None:
        line = json.dumps({"type": record_type, "error": error, "record": record},
                          ensure_ascii=False, default=str)
        with self._locked(), self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def add_record(self, record: object, error: str) -> None:
        fields = self._codec.encode(record)
        self.add(str(fields.pop("type")), error, fields)

    async def replay(self, write: Callable[[Any], Awaitable[None]],
                     refusal: Callable[[Exception], Awaitable[str | None]]) -> list[Replayed]:
        """Each record through `write`, in order. Written lines leave the file; refused ones
        stay with their new reason. `refusal(exc)` says why the database refused, or None
        when it is unreachable: then the replay stops there and the rest stays as it was."""
        with self._locked():
            if not self.path.exists():
                raise FileNotFoundError(self.path)
            original = self.path.read_bytes()
        kept: list[str] = []
        outcomes: list[Replayed] = []
        lines = original.decode("utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            entry, record, why = self._decode(line)
            record_type = str(entry.get("type", "?"))
            key = _key(entry.get("record"))
            if record is None:
                kept.append(line)
                outcomes.append(Replayed(number, record_type, key, why))
                continue
            try:
                await write(record)
            except Exception as exc:
                reason = await refusal(exc)
                if reason is None:
                    outcomes.append(Replayed(number, record_type, key,
                                             "database unreachable; not tried"))
                    kept.extend(lines[number - 1:])
                    outcomes.extend(self._untried(lines, number))
                    break
                kept.append(json.dumps({**entry, "error": reason}, ensure_ascii=False))
                outcomes.append(Replayed(number, record_type, key, reason))
                continue
            outcomes.append(Replayed(number, record_type, key, None))
        self._rewrite(original, kept)
        return outcomes

    def _decode(self, line: str) -> tuple[dict[str, Any], Any, str | None]:
        """(the line's object, its record or None, why not)."""
        try:
            entry = json.loads(line)
        except ValueError as exc:
            return {}, None, f"cannot decode: not JSON: {exc}"
        if not isinstance(entry, dict) or not isinstance(entry.get("record"), dict):
            return (entry if isinstance(entry, dict) else {}), None, \
                "cannot decode: no record object"
        try:
            return entry, self._codec.decode({**entry["record"], "type": entry.get("type")}), None
        except UndecodableRecord as exc:
            return entry, None, f"cannot decode: {exc}"

    def _untried(self, lines: list[str], stopped_at: int) -> Iterator[Replayed]:
        for number, line in enumerate(lines[stopped_at:], start=stopped_at + 1):
            if line.strip():
                entry, _record, _why = self._decode(line)
                yield Replayed(number, str(entry.get("type", "?")), _key(entry.get("record")),
                               "database unreachable; not tried")

    def _rewrite(self, original: bytes, kept: list[str]) -> None:
        """Kept lines, then whatever the service appended during the replay."""
        with self._locked():
            current = self.path.read_bytes() if self.path.exists() else b""
            if not current.startswith(original):
                raise RuntimeError(f"{self.path} was rewritten during the replay; "
                                   "nothing removed from it")
            added = current[len(original):].decode("utf-8")
            if not kept and not added.strip():
                self.path.unlink()
                return
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text("".join(f"{line}\n" for line in kept) + added, encoding="utf-8")
            partial.replace(self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _key(record: object) -> str:
    """How a person finds the record again: its Linkedid, or agent and time."""
    if not isinstance(record, dict):
        return "?"
    if record.get("linkedid"):
        return str(record["linkedid"])
    return " ".join(str(record.get(k)) for k in ("agent", "at") if record.get(k)) or "?"
