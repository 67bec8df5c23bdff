"""The five project reports, each one aggregate query (no rows pulled into Python to count):
progress, agent activity per day, funnel, talk-time distribution, callbacks due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Date, and_, case, cast, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.dispositions.models import Disposition
from callcenter.projects.models import ProjectAttempt, ProjectEntry

TALK_BUCKETS = ((0, 30), (30, 60), (60, 120), (120, 300), (300, None))


async def progress(session: AsyncSession, project_id: int) -> dict[str, Any]:
    e = ProjectEntry
    queued = e.state == "queued"
    row = (await session.execute(select(
        func.count(),
        func.count().filter(e.state == "done"),
        func.count().filter(and_(queued, e.attempts == 0)),
        func.count().filter(and_(queued, e.attempts > 0)),
        func.count().filter(e.state == "calling"),
        func.count().filter(e.state == "dnc"),
        func.count().filter(e.state == "skipped"),
        func.count().filter(e.success.is_(True)),
    ).where(e.project_id == project_id))).one()
    by_result = {result or "not_dialled": count for result, count in await session.execute(
        select(e.last_result, func.count()).where(e.project_id == project_id)
        .group_by(e.last_result))}
    keys = ("total", "done", "pending", "in_retry", "calling", "dnc", "skipped", "success")
    return {**dict(zip(keys, row, strict=True)), "by_result": by_result}


def _day(column: Any, dialect: str) -> Any:
    return func.date(column) if dialect == "sqlite" else cast(column, Date)


def _success_codes(project_id: int) -> Any:
    return select(Disposition.code).where(Disposition.scope == "project",
                                          Disposition.scope_key == str(project_id),
                                          Disposition.is_success.is_(True))


async def agent_activity(session: AsyncSession, project_id: int,
                         since: datetime | None = None,
                         until: datetime | None = None) -> list[dict[str, Any]]:
    """Per agent and day (UTC): attempts, answered, talk seconds, successes, success rate."""
    a = ProjectAttempt
    day = _day(a.started_at, session.get_bind().dialect.name)
    query = (select(a.agent, day.label("day"), func.count(),
                    func.count().filter(a.result == "answered"),
                    func.coalesce(func.sum(Call.talk_seconds), 0.0),
                    func.count().filter(a.disposition.in_(_success_codes(project_id))))
             .outerjoin(Call, Call.linkedid == a.linkedid)
             .where(a.project_id == project_id)
             .group_by(a.agent, day).order_by(day, a.agent))
    if since is not None:
        query = query.where(a.started_at >= since)
    if until is not None:
        query = query.where(a.started_at < until)
    return [{"agent": agent, "day": str(d), "calls": calls, "answered": answered,
             "talk_seconds": round(float(talk), 1), "successes": wins,
             "success_rate": round(wins / answered, 3) if answered else 0.0}
            for agent, d, calls, answered, talk, wins in (await session.execute(query)).all()]


async def funnel(session: AsyncSession, project_id: int) -> dict[str, int]:
    """Numbers dialled -> reached (answered at least once) -> positive result."""
    a, e = ProjectAttempt, ProjectEntry
    dialled, answered = (await session.execute(
        select(func.count(distinct(a.entry_id)),
               func.count(distinct(case((a.result == "answered", a.entry_id)))))
        .where(a.project_id == project_id))).one()
    positive = await session.scalar(select(func.count()).where(
        e.project_id == project_id, e.success.is_(True)))
    return {"dialled": dialled, "answered": answered, "positive": positive or 0}


async def talk_time(session: AsyncSession, project_id: int) -> list[dict[str, Any]]:
    """Answered attempts by talk time (seconds, from the call record)."""
    bucket = case(*((Call.talk_seconds < high, f"{low}-{high}")
                    for low, high in TALK_BUCKETS if high is not None),
                  else_=f"{TALK_BUCKETS[-1][0]}+")
    rows = dict((await session.execute(
        select(bucket, func.count()).select_from(ProjectAttempt)
        .join(Call, Call.linkedid == ProjectAttempt.linkedid)
        .where(ProjectAttempt.project_id == project_id, ProjectAttempt.result == "answered",
               Call.talk_seconds.is_not(None))
        .group_by(bucket))).all())
    labels = [f"{lo}-{hi}" if hi is not None else f"{lo}+" for lo, hi in TALK_BUCKETS]
    return [{"seconds": label, "calls": rows.get(label, 0)} for label in labels]


async def callbacks_due(session: AsyncSession, project_id: int,
                        until: datetime | None = None) -> list[ProjectEntry]:
    """Numbers an agent agreed to call back, soonest first."""
    e = ProjectEntry
    query = (select(e).where(e.project_id == project_id, e.state == "queued",
                             e.callback_at.is_not(None)).order_by(e.callback_at).limit(1000))
    if until is not None:
        query = query.where(e.callback_at <= until)
    return list(await session.scalars(query))
