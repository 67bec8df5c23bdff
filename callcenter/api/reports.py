"""Reports for supervisors: queue calls per interval and the per-agent table, over any period
(at most 366 days), aggregated in the database (callcenter.reports.service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from callcenter.api.auth import Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import invalid
from callcenter.api.fields import Timestamp, queue_name
from callcenter.calls.models import Call
from callcenter.reports import service as reports

router = APIRouter(prefix="/reports", tags=["reports"])
QueueName = queue_name(Call.queue)
INTERVALS = {"15m": 900, "30m": 1800, "1h": 3600, "1d": 86400}
Threshold = Annotated[float, Query(gt=0, le=86400, allow_inf_nan=False,
                                   description="answered within this many seconds counts "
                                               "towards the service level")]


class IntervalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    start: datetime = Field(description="the interval's start (UTC)")
    offered: int = Field(description="calls that entered a queue")
    answered: int
    abandoned: int
    answered_within: int = Field(description="answered within the service-level threshold")
    service_level: float | None = Field(description="answered_within / offered (0–1); "
                                                    "null when nothing was offered")


class IntervalReport(BaseModel):
    since: datetime
    until: datetime
    interval: str
    service_level_seconds: float
    time_zone: str = Field(description="intervals start on this zone's clock")
    intervals: list[IntervalOut]


class PauseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    reason: str | None
    seconds: float


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    agent: str
    calls: int = Field(description="calls answered")
    talk_seconds: float
    aht_seconds: float | None = Field(description="average handling time: talk per answered "
                                                  "call")
    paused_seconds: float
    logged_in_seconds: float = Field(description="time in at least one queue")
    occupancy: float | None = Field(description="talk / (logged in − paused), 0–1")
    pauses: list[PauseOut] = Field(description="pause time by reason")


class AgentReport(BaseModel):
    since: datetime
    until: datetime
    agents: list[AgentOut]


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    return since or until - timedelta(days=1), until


def _refused(exc: reports.ReportError) -> Exception:
    return invalid(("query", exc.field), str(exc))


@router.get("/intervals", response_model=IntervalReport)
async def interval_report(principal: Supervisor, db: DbDep, service: ServiceDep,
                          since: Timestamp | None = None, until: Timestamp | None = None,
                          interval: Literal["15m", "30m", "1h", "1d"] = "1h",
                          service_level_seconds: Threshold = 20,
                          queue: QueueName | None = None) -> IntervalReport:
    """Queue calls per interval: offered, answered, abandoned and the service level (calls
    per hour answered/abandoned; service level per interval). Default period: the last day."""
    since, until = _period(since, until)
    zone = service.settings.time_zone
    offset = since.astimezone(ZoneInfo(zone)).utcoffset() or timedelta()
    try:
        rows = await reports.intervals(db, since=since, until=until,
                                       seconds=INTERVALS[interval],
                                       threshold=service_level_seconds,
                                       offset_seconds=int(offset.total_seconds()), queue=queue)
    except reports.ReportError as exc:
        raise _refused(exc) from None
    return IntervalReport(since=since, until=until, interval=interval,
                          service_level_seconds=service_level_seconds, time_zone=zone,
                          intervals=[IntervalOut.model_validate(r) for r in rows])


@router.get("/agents", response_model=AgentReport)
async def agent_report(principal: Supervisor, db: DbDep, since: Timestamp | None = None,
                       until: Timestamp | None = None) -> AgentReport:
    """Per agent over the period: calls answered, talk, AHT, pause time by reason, time
    logged in, occupancy. Default period: the last day."""
    since, until = _period(since, until)
    try:
        lines = await reports.agents(db, since=since, until=until)
    except reports.ReportError as exc:
        raise _refused(exc) from None
    return AgentReport(since=since, until=until,
                       agents=[AgentOut.model_validate(line) for line in lines])
