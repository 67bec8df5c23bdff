"""Today's figures for the supervisor console, from our own records (queue entries, calls,
agent state changes), never from Asterisk's moving averages. "Today" starts at midnight in
the site's time zone. Aggregated in SQL; the pure summary below is unit-tested."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.agents.models import AgentStateChange
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.queues.models import QueueEntry
from callcenter.queues.targets import DEFAULTS, Targets

ABANDONED_SHOWN = 200  # the newest abandoned calls of the day listed


def start_of_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(), ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class QueueDay:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandoned_percent: float | None = None
    service_level: float | None = None  # % of offered answered within the queue's seconds
    asa: float | None = None  # average speed of answer, seconds
    aht: float | None = None  # average handling (talk) time, seconds


@dataclass(frozen=True)
class AgentDay:
    calls: int = 0
    missed: int = 0  # rings not answered
    aht: float | None = None


def queue_day(offered: int, answered: int, abandoned: int, within: int,
              wait_sum: float, waits: int, aht: float | None) -> QueueDay:
    """One queue's day from its counts. Service level = answered within the target seconds
    over all offered (abandoned calls count against it, as callers see it)."""
    return QueueDay(
        offered=offered, answered=answered, abandoned=abandoned,
        abandoned_percent=round(100 * abandoned / offered, 1) if offered else None,
        service_level=round(100 * within / offered, 1) if offered else None,
        asa=round(wait_sum / waits, 1) if waits else None,
        aht=round(aht, 1) if aht is not None else None)


async def queue_figures(session: AsyncSession, since: datetime,
                        targets: dict[str, Targets]) -> dict[str, QueueDay]:
    seconds = case(*((QueueEntry.queue == q, t.service_level_seconds)
                     for q, t in targets.items()), else_=DEFAULTS.service_level_seconds) \
        if targets else DEFAULTS.service_level_seconds
    answered = QueueEntry.outcome == "answered"
    rows = await session.execute(
        select(QueueEntry.queue, func.count(),
               func.sum(case((answered, 1), else_=0)),
               func.sum(case((QueueEntry.outcome == "abandoned", 1), else_=0)),
               func.sum(case((answered & (QueueEntry.wait_seconds <= seconds), 1), else_=0)),
               func.sum(case((answered, QueueEntry.wait_seconds), else_=None)),
               func.count(case((answered & QueueEntry.wait_seconds.is_not(None), 1),
                               else_=None)))
        .where(QueueEntry.entered_at >= since).group_by(QueueEntry.queue))
    talk = dict((await session.execute(
        select(Call.queue, func.avg(Call.talk_seconds))
        .where(Call.started_at >= since, Call.talk_seconds.is_not(None),
               Call.queue.is_not(None))
        .group_by(Call.queue))).all())
    out = {}
    for queue, offered, ans, abandoned, within, wait_sum, waits in rows:
        value = talk.get(queue)
        out[queue] = queue_day(int(offered), int(ans or 0), int(abandoned or 0), int(within or 0),
                               float(wait_sum or 0), int(waits or 0),
                               float(value) if value is not None else None)
    return out


async def agent_figures(session: AsyncSession, since: datetime) -> dict[str, AgentDay]:
    """By agent (queue member) name."""
    calls = {name: (int(n), avg) for name, n, avg in await session.execute(
        select(Call.agent, func.count(), func.avg(Call.talk_seconds))
        .where(Call.started_at >= since, Call.agent.is_not(None),
               Call.answered_at.is_not(None))
        .group_by(Call.agent))}
    missed = dict((await session.execute(
        select(AgentStateChange.agent, func.count())
        .where(AgentStateChange.at >= since, AgentStateChange.state == "ring_no_answer")
        .group_by(AgentStateChange.agent))).all())
    out = {}
    for name in set(calls) | set(missed):
        n, avg = calls.get(name, (0, None))
        out[name] = AgentDay(calls=n, missed=int(missed.get(name, 0)),
                             aht=round(float(avg), 1) if avg is not None else None)
    return out


@dataclass(frozen=True)
class Abandoned:
    linkedid: str
    number: str | None
    name: str | None
    queue: str | None
    at: datetime
    wait_seconds: float | None
    position: int | None
    callback_id: int | None
    callback_status: str | None  # open | done | None (no callback)
    recovered: bool  # the caller got through on a later call of their own


async def abandoned_today(session: AsyncSession, since: datetime) -> list[Abandoned]:
    """Newest first, each with the callback the service opened for it (if any)."""
    calls = list(await session.scalars(
        select(Call).where(Call.started_at >= since, Call.outcome == "abandoned")
        .order_by(Call.started_at.desc()).limit(ABANDONED_SHOWN)))
    numbers = {c.caller for c in calls if c.caller}
    callbacks = list(await session.scalars(select(Callback).where(
        Callback.number.in_(numbers), Callback.requested_at >= since))) if numbers else []
    closers = {cb.closed_by_linkedid for cb in callbacks if cb.closed_by_linkedid}
    inbound = set(await session.scalars(select(Call.linkedid).where(
        Call.linkedid.in_(closers), Call.direction == "inbound"))) if closers else set()
    # a later answered inbound call from the number: the caller got through by themselves
    through = {(n, at) for n, at in await session.execute(
        select(Call.caller, Call.started_at).where(
            Call.started_at >= since, Call.caller.in_(numbers), Call.direction == "inbound",
            Call.answered_at.is_not(None)))} if numbers else set()
    out = []
    for call in calls:
        mine = [cb for cb in callbacks if cb.linkedid == call.linkedid] or [
            cb for cb in callbacks if cb.number == call.caller
            and cb.requested_at >= call.started_at]
        callback = mine[0] if mine else None
        recovered = any(n == call.caller and at > call.started_at for n, at in through) or (
            callback is not None and callback.closed_by_linkedid in inbound)
        out.append(Abandoned(
            linkedid=call.linkedid, number=call.caller, name=call.caller_name, queue=call.queue,
            at=call.started_at, wait_seconds=call.wait_seconds,
            position=call.abandon_position,
            callback_id=callback.id if callback else None,
            callback_status=callback.status if callback else None, recovered=recovered))
    return out


def as_json(figures: dict[str, Any]) -> dict[str, Any]:
    return {key: asdict(value) for key, value in figures.items()}


def since_midnight(zone: str, now: datetime | None = None) -> datetime:
    return start_of_day(now or datetime.now(UTC), zone)


