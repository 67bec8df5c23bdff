"""Call records: search for supervisors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select

from callcenter.api.deps import DbDep, ServiceDep
from callcenter.calls.models import Call
from callcenter.phone import to_e164
from callcenter.recordings.models import Recording

router = APIRouter(tags=["calls"])


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    path: str
    format: str
    duration_seconds: float | None
    size_bytes: int | None


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    linkedid: str
    direction: str
    caller: str | None
    caller_name: str | None
    called: str | None
    started_at: datetime
    queue: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    agent: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    outcome: str
    abandon_position: int | None
    hangup_by: str | None
    transfer_target: str | None
    end_inferred: bool
    recordings: list[RecordingOut] = []


@router.get("/calls", response_model=list[CallOut])
async def search_calls(
    db: DbDep,
    service: ServiceDep,
    since: datetime | None = None,
    until: datetime | None = None,
    number: str | None = None,
    agent: str | None = None,
    queue: str | None = None,
    outcome: str | None = None,
    linkedid: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CallOut]:
    """Newest first."""
    query = select(Call).order_by(Call.started_at.desc(), Call.id.desc())
    if since:
        query = query.where(Call.started_at >= since)
    if until:
        query = query.where(Call.started_at < until)
    if number:
        e164 = to_e164(number, service.settings.default_region)
        if e164 is None:
            raise HTTPException(422, "number is not a phone number")
        query = query.where(or_(Call.caller == e164, Call.called == e164))
    for column, value in ((Call.agent, agent), (Call.queue, queue), (Call.outcome, outcome),
                          (Call.linkedid, linkedid)):
        if value:
            query = query.where(column == value)
    calls = list(await db.scalars(query.limit(limit).offset(offset)))
    recordings: dict[str, list[Recording]] = {}
    if calls:
        rows = await db.scalars(
            select(Recording).where(Recording.linkedid.in_([c.linkedid for c in calls])))
        for rec in rows:
            recordings.setdefault(rec.linkedid, []).append(rec)
    out = []
    for call in calls:
        item = CallOut.model_validate(call)
        item.recordings = [RecordingOut.model_validate(r)
                           for r in recordings.get(call.linkedid, [])]
        out.append(item)
    return out
