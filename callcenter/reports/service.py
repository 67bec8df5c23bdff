"""Reports over any period, aggregated in SQL: a month of millions of calls is one grouped
scan in the database, never rows carried into Python.

- `intervals`: queue calls per interval (offered, answered, abandoned, answered within the
  service-level threshold), intervals aligned on the site's clock.
- `agents`: per agent, answered calls, talk time, average handling time, pause time by reason,
  time logged in and occupancy, from the call records and the agent state history.

The same statements run on PostgreSQL and SQLite; only the few functions that differ
(seconds since the epoch, greatest/least) are chosen by dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from callcenter.agents.models import AgentStateChange
from callcenter.calls.models import Call

# state changes this long before a period still count (an agent who logged in or paused
# before it began); an agent logged in longer than this without a change is not seen
LOOKBACK = timedelta(days=1)
MAX_INTERVALS = 5000
QUARTER = 900
# the expression migration 0009_reports keeps PostgreSQL statistics on (see _quarter_hours)
QUARTER_HOUR = ("date_bin(interval '15 minutes', started_at, "
                "timestamptz '1970-01-01 00:00:00+00')")


class ReportError(ValueError):
    """A period or interval the report cannot take; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Interval:
    start: datetime
    offered: int
    answered: int
    abandoned: int
    answered_within: int
    service_level: float | None  # answered within the threshold / offered


@dataclass(frozen=True)
class PauseTime:
    reason: str | None
    seconds: float


@dataclass(frozen=True)
class AgentLine:
    agent: str
    calls: int
    talk_seconds: float
    aht_seconds: float | None
    paused_seconds: float
    logged_in_seconds: float
    occupancy: float | None  # talk / (logged in - paused)
    pauses: list[PauseTime] = field(default_factory=list)


def _epoch(dialect: str, column: Any) -> ColumnElement[float]:
    """Seconds since 1970 of a stored UTC timestamp."""
    if dialect == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _greatest(dialect: str, *args: Any) -> ColumnElement[Any]:
    return func.greatest(*args) if dialect == "postgresql" else func.max(*args)


def _least(dialect: str, *args: Any) -> ColumnElement[Any]:
    return func.least(*args) if dialect == "postgresql" else func.min(*args)


async def _custom_plans(session: AsyncSession) -> None:
    """A plan for this very period, every time. asyncpg prepares statements and PostgreSQL
    switches a prepared statement to a generic plan after five runs; for a month of calls the
    generic plan gave up the parallel aggregation and took twice as long (make bench)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def check_period(since: datetime, until: datetime) -> None:
    if until <= since:
        raise ReportError("until", "the period ends before it starts")
    if until - since > timedelta(days=366):
        raise ReportError("until", "a period is at most 366 days")


async def intervals(session: AsyncSession, *, since: datetime, until: datetime, seconds: int,
                    threshold: float, offset_seconds: int = 0,
                    queue: str | None = None) -> list[Interval]:
    """Every interval of the period (empty ones too), `offset_seconds` being the site's
    UTC offset so that hours and days start on the site's clock."""
    check_period(since, until)
    count = -(-int((until - since).total_seconds()) // seconds)
    if count > MAX_INTERVALS:
        raise ReportError("interval", f"{count} intervals: at most {MAX_INTERVALS} in one "
                                      "report, choose a longer interval or a shorter period")
    rows = await _quarter_hours(session, since, until, threshold, queue)
    found: dict[int, list[int]] = {}
    for quarter, *counts in rows:  # quarter hours, rolled up to the interval asked for
        totals = found.setdefault((quarter * QUARTER + offset_seconds) // seconds, [0] * 4)
        for index, value in enumerate(counts):
            totals[index] += int(value or 0)
    first = (int(since.timestamp()) + offset_seconds) // seconds
    last = (int(until.timestamp()) - 1 + offset_seconds) // seconds
    out = []
    for number in range(first, last + 1):
        offered, answered_n, abandoned, within = found.get(number, (0, 0, 0, 0))
        out.append(Interval(
            start=datetime.fromtimestamp(number * seconds - offset_seconds, UTC),
            offered=offered, answered=answered_n, abandoned=abandoned, answered_within=within,
            service_level=round(within / offered, 4) if offered else None))
    return out


async def _quarter_hours(session: AsyncSession, since: datetime, until: datetime,
                         threshold: float, queue: str | None) -> list[tuple[int, ...]]:
    """(quarter hour since 1970, offered, answered, abandoned, answered within) rows.

    Every interval a report offers is a multiple of 15 minutes, and every zone's UTC offset
    is too, so one grouping serves them all. On PostgreSQL the grouping expression is the
    one migration 0009 keeps statistics on (QUARTER_HOUR): told that a month has ~3,000
    groups rather than one per row, the planner aggregates in parallel workers."""
    dialect = session.bind.dialect.name
    await _custom_plans(session)
    if dialect == "postgresql":
        quarter: ColumnElement[Any] = func.date_bin(
            text("interval '15 minutes'"), Call.started_at,
            text("timestamptz '1970-01-01 00:00:00+00'"))
    else:
        quarter = cast(_epoch(dialect, Call.started_at), Integer) // QUARTER
    answered = Call.outcome == "answered"
    query = (select(quarter,
                    func.count(),
                    func.count().filter(answered),
                    func.count().filter(Call.outcome == "abandoned"),
                    func.count().filter(and_(answered, Call.wait_seconds <= threshold)))
             .where(Call.started_at >= since, Call.started_at < until,
                    Call.queue.is_not(None))
             .group_by(quarter))
    if queue:
        query = query.where(Call.queue == queue)
    rows = (await session.execute(query)).all()
    if dialect == "postgresql":
        return [(int(r[0].timestamp()) // QUARTER, *r[1:]) for r in rows]
    return [tuple(r) for r in rows]


async def agents(session: AsyncSession, *, since: datetime, until: datetime,
                 now: datetime | None = None) -> list[AgentLine]:
    """One line per agent who answered a call, paused or was logged in during the period.
    Times beyond `now` are not counted (a period that ends tomorrow counts up to now)."""
    check_period(since, until)
    dialect = session.bind.dialect.name
    await _custom_plans(session)
    end = min(until, now or datetime.now(UTC))
    start_s, end_s = since.timestamp(), max(end.timestamp(), since.timestamp())

    talk_rows = await session.execute(
        select(Call.agent, func.count(), func.coalesce(func.sum(Call.talk_seconds), 0.0))
        .where(Call.started_at >= since, Call.started_at < until, Call.agent.is_not(None),
               Call.outcome == "answered")
        .group_by(Call.agent))
    calls = {agent: (int(n), float(seconds)) for agent, n, seconds in talk_rows}

    history = (select(AgentStateChange.id, AgentStateChange.agent, AgentStateChange.queue,
                      AgentStateChange.state, AgentStateChange.reason, AgentStateChange.at)
               .where(AgentStateChange.at >= since - LOOKBACK, AgentStateChange.at < end))

    # pauses: a pause lasts until the agent's next pause, unpause or logout (one row per
    # queue for the same change: distinct times and states)
    pause_events = (history.with_only_columns(
        AgentStateChange.agent, AgentStateChange.state, AgentStateChange.reason,
        AgentStateChange.at)
        .where(AgentStateChange.state.in_(("pause", "unpause", "logout"))).distinct()
        .subquery())
    ordered = select(
        pause_events.c.agent, pause_events.c.state, pause_events.c.reason,
        _epoch(dialect, pause_events.c.at).label("t"),
        func.lead(_epoch(dialect, pause_events.c.at)).over(
            partition_by=pause_events.c.agent,
            order_by=(pause_events.c.at, pause_events.c.state)).label("next_t"),
    ).subquery()
    clipped = (_least(dialect, func.coalesce(ordered.c.next_t, end_s), end_s)
               - _greatest(dialect, ordered.c.t, start_s))
    pause_rows = await session.execute(
        select(ordered.c.agent, ordered.c.reason,
               func.sum(_greatest(dialect, clipped, 0.0)))
        .where(ordered.c.state == "pause")
        .group_by(ordered.c.agent, ordered.c.reason))
    pauses: dict[str, list[PauseTime]] = {}
    for agent, reason, seconds in pause_rows:
        if seconds and float(seconds) > 0:
            pauses.setdefault(agent, []).append(PauseTime(reason, round(float(seconds), 1)))

    # logged in: while the agent is a member of at least one queue (logins minus logouts)
    logins = history.where(AgentStateChange.state.in_(("login", "logout"))).subquery()
    delta = case((logins.c.state == "login", 1), else_=-1)
    order = (logins.c.at, logins.c.id)
    running = select(
        logins.c.agent,
        func.sum(delta).over(partition_by=logins.c.agent, order_by=order,
                             rows=(None, 0)).label("members"),
        _epoch(dialect, logins.c.at).label("t"),
        func.lead(_epoch(dialect, logins.c.at)).over(partition_by=logins.c.agent,
                                                     order_by=order).label("next_t"),
    ).subquery()
    span = (_least(dialect, func.coalesce(running.c.next_t, end_s), end_s)
            - _greatest(dialect, running.c.t, start_s))
    logged_rows = await session.execute(
        select(running.c.agent, func.sum(_greatest(dialect, span, 0.0)))
        .where(running.c.members > 0).group_by(running.c.agent))
    logged = {agent: float(seconds or 0) for agent, seconds in logged_rows}

    out = []
    for agent in sorted(set(calls) | set(pauses) | set(logged)):
        n, talk_s = calls.get(agent, (0, 0.0))
        paused = sum(p.seconds for p in pauses.get(agent, []))
        logged_in = logged.get(agent, 0.0)
        available = logged_in - paused
        out.append(AgentLine(
            agent=agent, calls=n, talk_seconds=round(talk_s, 1),
            aht_seconds=round(talk_s / n, 1) if n else None,
            paused_seconds=round(paused, 1), logged_in_seconds=round(logged_in, 1),
            occupancy=round(min(talk_s / available, 1.0), 4) if available > 0 else None,
            pauses=sorted(pauses.get(agent, []), key=lambda p: (p.reason or ""))))
    return out

