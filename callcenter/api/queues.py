"""Queues for supervisors: live state from Asterisk, and metrics from the call records."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from callcenter.ami.client import AMIError
from callcenter.api.auth import Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.calls.models import Call
from callcenter.queues.stats import queue_stats

router = APIRouter(prefix="/queues", tags=["queues"])


@router.get("")
async def live_queues(principal: Supervisor, service: ServiceDep) -> list[dict[str, Any]]:
    """Callers waiting (position, wait) and members (state, paused and why, calls taken)."""
    try:
        items = await service.ami.client.action_list({"Action": "QueueStatus"})
    except AMIError as exc:
        raise HTTPException(503, f"Asterisk unavailable: {exc}") from None
    queues: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item.get("Queue", "")
        queue = queues.setdefault(name, {"queue": name, "callers": [], "members": []})
        if item.get("Event") == "QueueParams":
            queue["strategy"] = item.get("Strategy")
        elif item.get("Event") == "QueueMember":
            queue["members"].append({
                "name": item.get("Name"), "interface": item.get("Location"),
                "status": int(item.get("Status", 0)), "in_call": item.get("InCall") == "1",
                "paused": item.get("Paused") == "1", "paused_reason": item.get("PausedReason"),
                "calls_taken": int(item.get("CallsTaken", 0))})
        elif item.get("Event") == "QueueEntry":
            queue["callers"].append({"position": int(item.get("Position", 0)),
                                     "wait_seconds": int(item.get("Wait", 0)),
                                     "linkedid": item.get("Uniqueid")})
    for queue in queues.values():
        waits = [c["wait_seconds"] for c in queue["callers"]]
        queue["longest_wait"] = max(waits, default=0)
    return sorted(queues.values(), key=lambda q: q["queue"])


@router.get("/stats")
async def stats(principal: Supervisor, db: DbDep,
                since: datetime | None = None, until: datetime | None = None,
                service_level_seconds: Annotated[float, Query(gt=0)] = 20
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
