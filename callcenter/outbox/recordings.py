"""recording.ready: a recording file is linked to its call and can be fetched."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from callcenter.outbox.emit import Event


def recording_ready_events(rows: Iterable[Any]) -> list[Event]:
    """The one recording.ready payload, of `recordings` rows as inserted (RETURNING id,
    linkedid, format, size_bytes, duration_seconds, created_at): by the call's record or,
    later, by the orphan sweep."""
    return [Event("recording.ready", {
        "recording_id": row.id, "linkedid": row.linkedid, "format": row.format,
        "size_bytes": row.size_bytes, "duration_seconds": row.duration_seconds,
        "created_at": row.created_at}, row.linkedid) for row in rows]


def returning_columns(table: Any) -> tuple[Any, ...]:
    """What `recording_ready_events` reads, for an INSERT's RETURNING."""
    return (table.c.id, table.c.linkedid, table.c.format, table.c.size_bytes,
            table.c.duration_seconds, table.c.created_at)
