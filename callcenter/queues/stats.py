"""Queue metrics computed from call records (never from Asterisk's moving averages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.queues.models import QueueEntry

ANSWERED = "answered"
ABANDONED = "abandoned"


@dataclass(frozen=True)
class QueueStats:
    queue: str
    offered: int
    answered: int
    abandoned: int
    other: int  # timeouts, no agent, ...
    service_level: float | None  # answered within the threshold / offered
    abandon_rate: float | None
    average_wait: float | None
    longest_wait: float | None


def compute(entries: list[tuple[str, str, float | None]], threshold: float) -> list[QueueStats]:
    """(queue, outcome, wait seconds) rows -> one line per queue. Pure, for unit tests."""
    by_queue: dict[str, list[tuple[str, float | None]]] = {}
    for queue, outcome, wait in entries:
        by_queue.setdefault(queue, []).append((outcome, wait))
    out = []
    for queue, rows in sorted(by_queue.items()):
        offered = len(rows)
        answered = [w for o, w in rows if o == ANSWERED]
        abandoned = sum(1 for o, _ in rows if o == ABANDONED)
        waits = [w for _, w in rows if w is not None]
        within = sum(1 for w in answered if w is not None and w <= threshold)
        out.append(QueueStats(
            queue=queue, offered=offered, answered=len(answered), abandoned=abandoned,
            other=offered - len(answered) - abandoned,
            service_level=round(within / offered, 4) if offered else None,
            abandon_rate=round(abandoned / offered, 4) if offered else None,
            average_wait=round(sum(waits) / len(waits), 2) if waits else None,
            longest_wait=max(waits) if waits else None))
    return out


async def queue_stats(session: AsyncSession, since: datetime, until: datetime,
                      threshold: float) -> list[QueueStats]:
    rows = await session.execute(
        select(QueueEntry.queue, QueueEntry.outcome, QueueEntry.wait_seconds)
        .where(QueueEntry.entered_at >= since, QueueEntry.entered_at < until))
    return compute([tuple(r) for r in rows], threshold)  # type: ignore[misc]
