"""The screen pop: who is calling, their card, their last calls and open callbacks.

Two ways to read it, giving the same pop: on PostgreSQL one statement on a connection of the
driver's own pool (`PopReader`: one round trip, no ORM objects, no transaction), elsewhere the
ORM (`load_pop`). Either way an agent's read is checked (`check_agent_may_read`'s rule: a
number they are, or were within the window, on a call with) and audited, and every value
leaves through the data policy (`PopData.for_viewer` -> `card`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.access import CardNotAllowed, audit_card_read, check_agent_may_read
from callcenter.contacts.card import card
from callcenter.contacts.lookup import field_rules, find_by_number
from callcenter.contacts.models import Contact
from callcenter.dispositions.models import CallWrapup
from callcenter.phone import to_e164
from callcenter.policy import FieldRule, Kind, Viewer
from callcenter.recordings.models import Recording

log = logging.getLogger(__name__)

LAST_CALLS = 5
# a caller who called within this many days before is marked a repeat caller
REPEAT_DAYS = 7
# and `recent_calls` counts their calls up to this many (a pop reads a bounded number of rows)
REPEAT_COUNT_CAP = 100


class NumberRow(NamedTuple):
    number: str
    label: str | None


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A contact as the card needs it (the attributes of `Contact`), read as a plain row."""

    id: int
    name: str
    email: str | None
    notes: str | None
    vip: bool
    language: str | None
    fields: dict[str, str]
    recording_opt_out: bool
    numbers: list[NumberRow]


class PopData:
    """Everything a pop needs, read once; shaped per viewer by `for_viewer`."""

    def __init__(self, number: str | None, raw: str, contact: Contact | ContactRow | None,
                 calls: list[dict[str, Any]], callbacks: list[dict[str, Any]],
                 rules: dict[str, FieldRule], recent_calls: int = 0) -> None:
        self.number, self.raw, self.contact = number, raw, contact
        self.calls, self.callbacks = calls, callbacks
        self.rules = rules
        self.recent_calls = recent_calls

    def for_viewer(self, role: str, agent_name: str | None) -> dict[str, Any]:
        """The caller's own number is theirs to see in full: it is the caller's."""
        viewer = Viewer(role, own_number=self.number)
        return {
            "number": self.number or self.raw,
            "new": self.contact is None,
            "contact": card(self.contact, viewer, self.rules)  # type: ignore[arg-type]
            if self.contact else None,
            # agents may play only their own calls' recordings
            "last_calls": [c if viewer.sees_everything or c["agent"] == agent_name
                           else {**c, "recordings": []} for c in self.calls],
            "open_callbacks": self.callbacks,
            "recent_calls": self.recent_calls,
            "repeat_caller": self.recent_calls > 0,
        }


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a pop. An agent (`agent_name` set) may read the cards of `live_numbers`
    (on a call with them now) or of numbers they were on a call with since `window` ago."""

    username: str
    agent_name: str | None = None
    live_numbers: Collection[str] = ()
    window: timedelta = timedelta(hours=24)
    client: str | None = None
    is_agent: bool = False


async def last_calls(session: AsyncSession, number: str, limit: int) -> list[dict[str, Any]]:
    """A number's latest calls with their recordings, in one statement. The calls are two
    index-ordered reads (as caller, as called): an OR across both columns makes PostgreSQL
    walk the whole started_at index of a large table."""
    as_caller = (select(Call.id).where(Call.caller == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    as_called = (select(Call.id).where(Call.called == number)
                 .order_by(Call.started_at.desc()).limit(limit))
    ids = union_all(as_caller.subquery().select(), as_called.subquery().select()).subquery()
    latest = (select(Call.id).where(Call.id.in_(select(ids.c.id)))
              .order_by(Call.started_at.desc(), Call.id).limit(limit).subquery())
    rows = await session.execute(
        select(Call.id, Call.linkedid, Call.started_at, Call.direction, Call.queue,
               Call.outcome, Call.agent, Call.wait_seconds, Call.talk_seconds, Recording.id,
               CallWrapup.disposition_code)
        .join(latest, latest.c.id == Call.id)
        .outerjoin(Recording, Recording.linkedid == Call.linkedid)
        .outerjoin(CallWrapup, CallWrapup.linkedid == Call.linkedid)
        .order_by(Call.started_at.desc(), Call.id, Recording.id))
    calls: dict[int, dict[str, Any]] = {}
    for (call_id, linkedid, started_at, direction, queue, outcome, agent, wait, talk,
         recording_id, disposition) in rows:
        call = calls.setdefault(call_id, _call(call_id, linkedid, started_at, direction, queue,
                                               outcome, agent, wait, talk, [], disposition))
        if recording_id is not None:
            call["recordings"].append(recording_id)
    return list(calls.values())


def _call(call_id: int, linkedid: str, started_at: datetime, direction: str,
          queue: str | None, outcome: str, agent: str | None, wait: float | None,
          talk: float | None, recordings: list[int],
          disposition: str | None) -> dict[str, Any]:
    return {"id": call_id, "linkedid": linkedid, "started_at": started_at.isoformat(),
            "direction": direction, "queue": queue, "outcome": outcome, "agent": agent,
            "wait_seconds": wait, "talk_seconds": talk, "disposition": disposition,
            "recordings": recordings}


def _callback(cb_id: int, queue: str | None, at: datetime, source: str,
              due: datetime | None, assignee: str | None) -> dict[str, Any]:
    return {"id": cb_id, "queue": queue, "requested_at": at.isoformat(), "source": source,
            "due_at": due.isoformat() if due else None, "assignee": assignee}


async def load_pop(session: AsyncSession, raw_number: str, region: str) -> PopData:
    """The pop through the ORM (any database)."""
    number = to_e164(raw_number, region)
    contact = await find_by_number(session, number) if number else None
    calls: list[dict[str, Any]] = []
    callbacks: list[dict[str, Any]] = []
    recent = 0
    if number:
        calls = await last_calls(session, number, LAST_CALLS)
        since = datetime.now(UTC) - timedelta(days=REPEAT_DAYS)
        for column in (Call.caller, Call.called):  # each from its own (number, time) index
            recent += await session.scalar(select(func.count()).select_from(
                select(Call.id).where(column == number, Call.started_at >= since)
                .limit(REPEAT_COUNT_CAP).subquery())) or 0
        callbacks = [_callback(*row) for row in await session.execute(
            select(Callback.id, Callback.queue, Callback.requested_at, Callback.source,
                   Callback.due_at, Callback.assignee)
            .where(Callback.number == number, Callback.status == "open")
            .order_by(Callback.id))]
    return PopData(number, raw_number, contact, calls, callbacks, await field_rules(session),
                   recent)


async def read_pop(sessions: async_sessionmaker[AsyncSession], raw_number: str, region: str,
                   reader: Reader) -> PopData:
    """The pop through the ORM, checked and audited for an agent (CardNotAllowed)."""
    async with sessions() as session:
        if reader.is_agent:
            e164 = to_e164(raw_number, region)
            await check_agent_may_read(session, agent_name=reader.agent_name,
                                       numbers=[e164] if e164 else [],
                                       live_numbers=reader.live_numbers, window=reader.window)
        data = await load_pop(session, raw_number, region)
        if reader.is_agent and data.contact is not None:
            audit_card_read(session, username=reader.username, contact_id=data.contact.id,
                            via="screenpop", client=reader.client)
            await session.commit()
        return data


# The whole pop in one statement: the contact (if any) with its numbers, its last calls (two
# index-ordered reads, as in `last_calls`) with their recordings, open callbacks and the
# admins' card-field declarations. Arrays of anonymous rows, decoded by asyncpg (which decodes
# no array inside them: a call's recording ids come as "12,13").
# Its connections plan it once (`plan_cache_mode = force_generic_plan`, see PopReader): left
# to choose, PostgreSQL planned it anew on every execution (~350 µs of its ~470 µs of CPU a
# pop). A generic plan knows nothing of the number, and the statistics of `caller` and
# `called` are dominated by the center's own numbers (inbound calls all have the DID in
# `called`, outbound ones the CLI in `caller`): `called = $1` then seems to match every call,
# and the plan walked the `started_at` index instead, a thousand times worse for a customer.
# So calls are read by number as a range, `called >= $1 AND called <= $1`, in the order of
# the (number, started_at) index: a range is not an equality the planner can drop from the
# ORDER BY, so only that index gives the order without sorting, whatever the statistics say,
# and each read is bounded (LIMIT; the counts stop at REPEAT_COUNT_CAP). The agent's check
# compares `coalesce(agent, '')`, which no index serves: not an agent's whole history either.
# The limits are literals for the same reason.
POP_SQL = f"""
SELECT c.id, c.name, c.email, c.notes, c.vip, c.language, c.fields::text AS fields,
       c.recording_opt_out,
       ARRAY(SELECT ROW(n.number, n.label) FROM contact_numbers n
             WHERE n.contact_id = c.id ORDER BY n.id) AS numbers,
       ARRAY(SELECT ROW(k.id, k.linkedid, k.started_at, k.direction, k.queue, k.outcome,
                        k.agent, k.wait_seconds, k.talk_seconds,
                        (SELECT string_agg(r.id::text, ',' ORDER BY r.id) FROM recordings r
                         WHERE r.linkedid = k.linkedid),
                        (SELECT w.disposition_code FROM call_wrapups w
                         WHERE w.linkedid = k.linkedid))
             FROM calls k
             WHERE k.id IN ((SELECT id FROM calls WHERE caller >= $1 AND caller <= $1
                             ORDER BY caller DESC, started_at DESC LIMIT {LAST_CALLS})
                            UNION ALL
                            (SELECT id FROM calls WHERE called >= $1 AND called <= $1
                             ORDER BY called DESC, started_at DESC LIMIT {LAST_CALLS}))
             ORDER BY k.started_at DESC, k.id LIMIT {LAST_CALLS}) AS calls,
       ARRAY(SELECT ROW(b.id, b.queue, b.requested_at, b.source, b.due_at, b.assignee)
             FROM callbacks b
             WHERE b.number = $1 AND b.status = 'open' ORDER BY b.id) AS callbacks,
       ARRAY(SELECT ROW(f.name, f.kind, f.agent_visible) FROM card_fields f) AS rules,
       (SELECT count(*) FROM (SELECT 1 FROM calls WHERE caller >= $1 AND caller <= $1
                                AND started_at >= now() - interval '{REPEAT_DAYS} days'
                              ORDER BY caller, started_at LIMIT {REPEAT_COUNT_CAP}) AS r)
       + (SELECT count(*) FROM (SELECT 1 FROM calls WHERE called >= $1 AND called <= $1
                                  AND started_at >= now() - interval '{REPEAT_DAYS} days'
                                ORDER BY called, started_at LIMIT {REPEAT_COUNT_CAP}) AS r)
         AS recent_calls
FROM (SELECT 1) AS one
LEFT JOIN contacts c ON c.id = (SELECT contact_id FROM contact_numbers WHERE number = $1)
"""
# An agent's: the same, and whether they were on a call with the number since $2
# (access.check_agent_may_read's rule).
AGENT_POP_SQL = POP_SQL.replace("FROM (SELECT 1) AS one", """,
       EXISTS(SELECT 1 FROM (SELECT 1 FROM calls a
                             WHERE a.caller >= $1 AND a.caller <= $1
                               AND coalesce(a.agent, '') = $3
                               AND (a.started_at >= $2 OR a.ended_at >= $2)
                             ORDER BY a.caller, a.started_at LIMIT 1) AS r)
       OR EXISTS(SELECT 1 FROM (SELECT 1 FROM calls a
                                WHERE a.called >= $1 AND a.called <= $1
                                  AND coalesce(a.agent, '') = $3
                                  AND (a.started_at >= $2 OR a.ended_at >= $2)
                                ORDER BY a.called, a.started_at LIMIT 1) AS r) AS recent
FROM (SELECT 1) AS one""")
# the pop connections' settings (POP_SQL says why)
POP_SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
AUDIT_SQL = """
INSERT INTO audit_log (at, username, action, object_type, object_id, client, details)
VALUES ($1, $2, 'contact.read', 'contact', $3, $4, 'via=screenpop')
"""
# a connection that died under us (the database restarted, the connection was cut): closed,
# and the statement tried once more on a fresh one
_BROKEN = (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError,
           asyncpg.InternalClientError, ConnectionError)


class DatabaseUnavailable(Exception):
    """The database could not be reached or did not answer in time."""


class PopReader:
    """Screen pops on PostgreSQL: one statement on a small pool of the driver's own
    connections. Per pop the ORM path cost ten round trips (pre-ping and transaction
    statements around four queries) and most of the request's CPU in SQLAlchemy."""

    def __init__(self, database_url: str, region: str, size: int = 4,
                 timeout: float = 5.0) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._region = region
        self._size = size
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        """The connections opened and the statements prepared now (at start-up), not by the
        first pops after a restart: asyncpg looks up the row types of a new statement on
        each connection, which took the first pops 300-400 ms."""
        try:
            await self._connections(self._size)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(repr(exc)) from None

    async def _connections(self, ready: int = 1) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    # nothing a pop does outlives its statement: no reset query on release;
                    # its statements planned once per connection (POP_SQL says why)
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=ready, max_size=self._size, reset=_keep,
                        server_settings=POP_SERVER_SETTINGS,
                        init=_prepare, timeout=self._timeout, command_timeout=self._timeout)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def read(self, raw_number: str, reader: Reader) -> PopData:
        """The pop; for an agent checked (CardNotAllowed) and audited."""
        number = to_e164(raw_number, self._region)
        checking = reader.is_agent and not (number and number in reader.live_numbers)
        if reader.is_agent and (number is None or reader.agent_name is None):
            raise CardNotAllowed
        if checking:
            row = await self._run("fetchrow", AGENT_POP_SQL, number,
                                  datetime.now(UTC) - reader.window, reader.agent_name)
        else:
            row = await self._run("fetchrow", POP_SQL, number)
        if checking and not row["recent"]:
            raise CardNotAllowed
        data = _pop(number, raw_number, row)
        if reader.is_agent and data.contact is not None:
            await self._run("execute", AUDIT_SQL, datetime.now(UTC), reader.username,
                            str(data.contact.id), reader.client)
        return data

    async def _run(self, method: str, sql: str, *args: object) -> Any:
        for attempt in (1, 2):
            try:
                pool = await self._connections()
                async with pool.acquire() as connection:
                    try:
                        return await getattr(connection, method)(sql, *args)
                    except _BROKEN:
                        connection.terminate()  # not back into the pool
                        raise
            except _BROKEN:
                if attempt == 2:
                    raise DatabaseUnavailable("the database closed the connection") from None
            except (OSError, TimeoutError, asyncpg.PostgresConnectionError,
                    asyncpg.CannotConnectNowError) as exc:
                raise DatabaseUnavailable(type(exc).__name__) from None
        raise AssertionError("unreachable")


async def _prepare(connection: asyncpg.Connection) -> None:
    """Each new connection: both statements prepared and cached (and their types known)."""
    await connection.fetchrow(POP_SQL, None)
    await connection.fetchrow(AGENT_POP_SQL, None, datetime.now(UTC), None)


async def _keep(_connection: asyncpg.Connection) -> None:
    """No reset statement when a pop's connection goes back to its pool."""


def _pop(number: str | None, raw: str, row: asyncpg.Record) -> PopData:
    contact = None
    if row["id"] is not None:
        contact = ContactRow(row["id"], row["name"], row["email"], row["notes"], row["vip"],
                             row["language"], json.loads(row["fields"] or "{}"),
                             row["recording_opt_out"],
                             [NumberRow(*n) for n in row["numbers"]])
    calls = [_call(*c[:9], [int(r) for r in c[9].split(",")] if c[9] else [], c[10])
             for c in row["calls"]] if number else []
    callbacks = [_callback(*b) for b in row["callbacks"]] if number else []
    rules = {name: FieldRule(Kind(kind) if kind else None, visible)
             for name, kind, visible in row["rules"]}
    return PopData(number, raw, contact, calls, callbacks, rules,
                   row["recent_calls"] if number else 0)
