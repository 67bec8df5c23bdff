"""An agent's day so far: calls, handling time and pauses, from the records (not from
Asterisk's moving averages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agents.models import AgentStateChange
from callcenter.calls.models import Call


@dataclass
class Today:
    calls: int = 0
    answered: int = 0
    talk_seconds: float = 0.0
    average_handling_seconds: float | None = None
    pause_seconds: dict[str, float] = field(default_factory=dict)  # by reason ("" unknown)


def start_of_day(now: datetime, time_zone: str) -> datetime:
    """Midnight of `now`'s day in the site's time zone."""
    local = now.astimezone(ZoneInfo(time_zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def pause_totals(changes: Iterable[tuple[str, str | None, str | None, datetime]],
                 since: datetime, now: datetime) -> dict[str, float]:
    """Seconds paused by reason. `changes`: (state, queue, reason, at) in time order; Asterisk
    pauses per queue, so the agent counts as paused while any queue has them paused, under
    the reason of the latest pause."""
    paused_queues: set[str | None] = set()
    reason = ""
    began: datetime | None = None
    totals: dict[str, float] = {}

    def close(at: datetime) -> None:
        if began is not None:
            totals[reason] = totals.get(reason, 0.0) + (at - max(began, since)).total_seconds()

    for state, queue, why, at in changes:
        if state == "pause":
            if paused_queues and (why or "") != reason:
                close(at)
                began = at
            elif not paused_queues:
                began = at
            paused_queues.add(queue)
            reason = why or ""
        elif state in ("unpause", "logout") and paused_queues:
            paused_queues.discard(queue) if state == "unpause" else paused_queues.clear()
            if not paused_queues:
                close(at)
                began = None
    if paused_queues:
        close(now)
    return {k: round(v, 1) for k, v in totals.items() if v > 0}


async def agent_today(session: AsyncSession, agent: str, since: datetime,
                      now: datetime) -> Today:
    """Calls taken since `since` (answered ones make the handling time: talk per call) and
    pause time by reason (a pause begun before `since` counts from `since`)."""
    row = (await session.execute(
        select(func.count(Call.id), func.count(Call.answered_at),
               func.coalesce(func.sum(Call.talk_seconds), 0.0),
               func.avg(Call.talk_seconds))
        .where(Call.agent == agent, Call.started_at >= since))).one()
    today = Today(calls=row[0], answered=row[1], talk_seconds=round(float(row[2]), 1),
                  average_handling_seconds=round(float(row[3]), 1) if row[3] is not None
                  else None)
    # the state before `since` too: a pause begun yesterday still counts today
    last_before = await session.scalar(
        select(func.max(AgentStateChange.at)).where(AgentStateChange.agent == agent,
                                                    AgentStateChange.at < since))
    start = last_before if last_before is not None else since
    changes = (await session.execute(
        select(AgentStateChange.state, AgentStateChange.queue, AgentStateChange.reason,
               AgentStateChange.at)
        .where(AgentStateChange.agent == agent, AgentStateChange.at >= start,
               AgentStateChange.at <= now)
        .order_by(AgentStateChange.at, AgentStateChange.id))).all()
    today.pause_seconds = pause_totals([tuple(c) for c in changes], since, now)
    return today
