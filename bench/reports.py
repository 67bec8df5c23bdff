"""Reports over a month of 10 M call records on PostgreSQL (target: each under 2 s).

A database of its own is filled in SQL with generate_series: 10,000,000 queue calls spread
over one month (about 3.9 calls a second, day and night: the strictest reading of "a month
over 10 M call records"), 200 agents with a login, two pauses and a logout in two queues a
day. The secondary indexes are dropped for the fill and built again afterwards (as a bulk
load would), then VACUUM ANALYZE, as autovacuum leaves a table in production.

Timed, best of five (the machine is shared), through the same service functions the API
calls: the interval report by hour, by 15 minutes and by day, and the per-agent table for
the month. Baseline, same run: `count(*)` of the month's calls (the least any report over
them can cost).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from sqlalchemy import text

from bench.common import Result, Timer
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.reports import service as reports

ROWS = 10_000_000
AGENTS = 200
SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
TARGET_SECONDS = 2.0
MOSCOW = 3 * 3600

FILL_CALLS = f"""
INSERT INTO calls (linkedid, direction, caller, called, started_at, queue, queue_entered_at,
                   answered_at, ended_at, agent, wait_seconds, talk_seconds, outcome,
                   end_inferred, vip, recording_opt_out, consent_unknown, source, evidence)
SELECT 'bench-' || g, 'inbound', '+7916' || lpad((g % 10000000)::text, 7, '0'),
       '+74950000000', t, (ARRAY['support', 'sales', 'billing', 'vip'])[g % 4 + 1], t,
       CASE WHEN g % 10 >= 2 THEN t + make_interval(secs => g % 90) END,
       t + make_interval(secs => g % 90 + 30 + g % 600),
       CASE WHEN g % 10 >= 2 THEN 'Agent' || (g % {AGENTS}) END,
       g % 90, CASE WHEN g % 10 >= 2 THEN 30 + g % 600 END,
       CASE WHEN g % 10 = 0 THEN 'abandoned' WHEN g % 10 = 1 THEN 'timeout'
            ELSE 'answered' END,
       false, false, false, false, 'ledger', 3
FROM generate_series(1, {ROWS}) AS g,
     LATERAL (SELECT timestamptz '{SINCE.isoformat()}'
                     + (g - 1) * (timestamptz '{UNTIL.isoformat()}'
                                  - timestamptz '{SINCE.isoformat()}') / {ROWS} AS t) AS at
"""

FILL_STATES = f"""
INSERT INTO agent_state_changes (agent, interface, queue, state, reason, at)
SELECT 'Agent' || a, 'Local/' || a || '@agents/n', q, s.state, s.reason,
       timestamptz '{SINCE.isoformat()}' + make_interval(days => d, secs => s.hour * 3600)
FROM generate_series(0, {AGENTS - 1}) AS a, generate_series(0, 30) AS d,
     unnest(ARRAY['support', 'sales']) AS q,
     (VALUES ('login', NULL, 6), ('pause', 'break', 9), ('unpause', NULL, 9.25),
             ('pause', 'lunch', 12), ('unpause', NULL, 13), ('logout', NULL, 15)
     ) AS s(state, reason, hour)
"""


async def _fill(url: str) -> float:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            indexes = [row[0] for row in await conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'calls' "
                "AND indexname NOT LIKE '%pkey'"))]
            names = [row[0] for row in await conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'calls' "
                "AND indexname NOT LIKE '%pkey' AND indexname NOT IN (SELECT conname FROM "
                "pg_constraint)"))]
            for name in names:
                await conn.execute(text(f'DROP INDEX "{name}"'))
            with Timer() as timer:
                await conn.execute(text(FILL_CALLS))
                await conn.execute(text(FILL_STATES))
                for definition in indexes:
                    if any(f'INDEX {n} ' in definition for n in names):
                        await conn.execute(text(definition))
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE calls"))
            await conn.execute(text("VACUUM ANALYZE agent_state_changes"))
        return timer.seconds
    finally:
        await engine.dispose()


async def _best(sessions, call) -> float:
    best = float("inf")
    for _ in range(5):
        async with sessions() as session:
            with Timer() as timer:
                await call(session)
        best = min(best, timer.seconds)
    return best


async def _time(url: str) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    period = {"since": SINCE, "until": UNTIL}
    try:
        async with sessions() as session:  # the data is what the bench says it is
            count = await session.scalar(text(
                "SELECT count(*) FROM calls WHERE started_at >= :since AND started_at < :until"),
                period)
            assert count == ROWS, count

        async def counted(session) -> None:
            await session.execute(text("SELECT count(*) FROM calls WHERE started_at >= :since "
                                       "AND started_at < :until"), period)

        def by(seconds: int):
            return lambda s: reports.intervals(s, **period, seconds=seconds, threshold=20,
                                               offset_seconds=MOSCOW)

        return {
            "count": await _best(sessions, counted),
            "hour": await _best(sessions, by(3600)),
            "15 min": await _best(sessions, by(900)),
            "day": await _best(sessions, by(86400)),
            "agents": await _best(sessions, lambda s: reports.agents(s, **period)),
        }
    finally:
        await engine.dispose()


async def _create_database(url: str, name: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def run(url: str, _tmp: str) -> list[Result]:
    own = asyncio.run(_create_database(url, "bench_reports"))
    upgrade(own)
    print(f"bench: reports: filling {ROWS:,} calls ...", file=sys.stderr, flush=True)
    fill = asyncio.run(_fill(own))
    times = asyncio.run(_time(own))
    name = "reports (10 M calls in a month)"
    baseline = ("count(*) of the month", times["count"])
    out = [Result(name, "fill with generate_series + indexes", fill, "s")]
    for metric, key in (("calls per hour, month", "hour"),
                        ("calls per 15 min, month", "15 min"),
                        ("calls per day, month", "day"),
                        ("agent table, month", "agents")):
        out.append(Result(name, metric, times[key], "s", *baseline,
                          target=f"< {TARGET_SECONDS:g} s",
                          met=times[key] < TARGET_SECONDS))
    return out
