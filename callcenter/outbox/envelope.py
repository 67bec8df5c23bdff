"""An outbox row as a receiver gets it: the envelope, with the payload its role may see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter.outbox.catalogue import view
from callcenter.outbox.models import OutboxEvent
from callcenter.policy import FieldRule


def envelope(event: OutboxEvent, role: str,
             rules: Mapping[str, FieldRule] | None = None) -> dict[str, Any]:
    """`id` is what to dedupe on; `sequence` the outbox position (the stream's cursor;
    increasing in commit order, so also the order within an `ordering_key`)."""
    return {"id": event.event_id, "type": event.type, "version": event.version,
            "sequence": event.id, "ordering_key": event.ordering_key,
            "created_at": event.created_at.isoformat(),
            "data": view(event.type, event.payload, role, rules)}
