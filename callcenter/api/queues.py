"""Queues for supervisors: live state from Asterisk, and metrics from the call records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from callcenter.api.auth import Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors
from callcenter.api.fields import Timestamp
from callcenter.calls.models import Call
from callcenter.queues.stats import queue_stats

router = APIRouter(prefix="/queues", tags=["queues"])


@router.get("", responses=errors(503))
async def live_queues(principal: Supervisor, service: ServiceDep) -> list[dict[str, Any]]:
    """Callers waiting (position, wait) and members (paused and why, ringing, on a call with
    whom, idle since, calls taken), as the AMI listener follows them."""
    if not service.ami.connected:
        raise HTTPException(503, "not connected to Asterisk: the live picture is not current")
    return service.live.snapshot()


@router.get("/stats")
async def stats(principal: Supervisor, db: DbDep,
                since: Timestamp | None = None, until: Timestamp | None = None,
                service_level_seconds: Annotated[float, Query(gt=0, le=86400,
                                                              allow_inf_nan=False)] = 20
                ) -> list[dict[str, Any]]:
    """Service level, abandon rate, waits (queue entries) and handle times (calls)."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=1)
    lines = [asdict(s) for s in await queue_stats(db, since, until, service_level_seconds)]
    talk = dict((await db.execute(
        select(Call.queue, func.avg(Call.talk_seconds))
        .where(Call.started_at >= since, Call.started_at < until,
               Call.talk_seconds.is_not(None), Call.queue.is_not(None))
        .group_by(Call.queue))).all())
    for line in lines:
        value = talk.get(line["queue"])
        line["average_talk"] = round(float(value), 2) if value is not None else None
    return lines
