"""Writing events into the outbox, in the transaction of the change they describe.

The event's `id` is the cursor of `GET /events` and the order of delivery, so ids must become
visible in increasing order: on PostgreSQL two transactions could otherwise commit ids 8 then
7, and a reader at cursor 8 would never see 7. The events are inserted when the transaction
commits (`before_commit`, still inside it) under a transaction-scoped advisory lock, so
transactions that emit commit one after another, holding the lock only for their last
statements (SQLite serialises writers anyway). A savepoint rolled back alone does not take
its events back: emit outside savepoints.
A bulk writer (a contact import) stages its events instead (staged.py): they reach the outbox
later, in short chunks, and an emitter of a `contact-` key first takes that key's staged
events along (`_claim_staged`), so it never overtakes them.
After a commit that emitted, the deliverer and waiting streams are woken (`Signal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callcenter.outbox.catalogue import VERSIONS
from callcenter.outbox.models import OutboxEvent, OutboxStaged

_LOCK_KEY = 0x0C0A11B0  # pg_advisory_xact_lock's key for "emitting into the outbox"
LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_LOCK_KEY)
_EMITTED = "outbox_emitted"
_PENDING = "outbox_pending"
_RELEASED = "outbox_released"  # staged rows this transaction moves into the outbox
# what an outbox row is built from, and a staged row holds
COLUMNS = ("event_id", "type", "version", "ordering_key", "agent", "payload", "created_at")


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    payload: dict[str, Any]
    ordering_key: str
    agent: str | None = None


def jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 (UTC), tuples as lists: what a JSON column and a CRM can take."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def emit(session: AsyncSession, event_type: str, payload: dict[str, Any], *,
               ordering_key: str, agent: str | None = None) -> str:
    """Adds one event in the caller's transaction (committed or rolled back with it); returns
    its event id."""
    return (await emit_many(session, [Event(event_type, payload, ordering_key, agent)]))[0]


def build_rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The outbox rows (`COLUMNS`) of events, each with a new event id."""
    now = datetime.now(UTC)
    rows = []
    for item in events:
        if item.type not in VERSIONS:
            raise ValueError(f"unknown event type {item.type!r}")
        rows.append({"event_id": str(uuid.uuid4()), "type": item.type,
                     "version": VERSIONS[item.type], "ordering_key": item.ordering_key[:80],
                     "agent": item.agent, "payload": jsonable(item.payload), "created_at": now})
    return rows


async def emit_many(session: AsyncSession, events: Iterable[Event]) -> list[str]:
    """Adds events in the given order (their ids increase in that order)."""
    rows = build_rows(events)
    # inserted by _before_commit, as the transaction's last statements
    session.info.setdefault(_PENDING, []).extend(rows)
    return [row["event_id"] for row in rows]


def queue_released(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """Staged rows this transaction claimed (built already: their event ids are kept), for
    its commit-time insert, in the given order and before its own events."""
    session.info.setdefault(_RELEASED, []).extend(
        {column: row[column] for column in COLUMNS} for row in rows)


class Signal:
    """Wakes waiters (the deliverer, long polls) in this process after an emitting commit.
    Waiters also look on their own every few seconds: other processes emit too (the CLI)."""

    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        for loop, flag in list(self._waiters):
            if loop.is_closed():
                self._waiters.discard((loop, flag))
                continue
            loop.call_soon_threadsafe(flag.set)

    @contextlib.contextmanager
    def listening(self) -> Iterator[asyncio.Event]:
        """An event set by each notification while inside: register first, then look, then
        wait, and no commit in between is missed."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        self._waiters.add(entry)
        try:
            yield entry[1]
        finally:
            self._waiters.discard(entry)


async def woken(flag: asyncio.Event, timeout: float) -> bool:
    """Waits for the flag (then clears it) at most `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            await flag.wait()
    except TimeoutError:
        return False
    flag.clear()
    return True


signal = Signal()


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """The transaction's events, inserted just before its COMMIT: the lock that orders the
    ids is held only from here to the commit, never while the rest of a writer's batch or
    of a request runs (a FastAGI route creating a callback does not wait behind them)."""
    released = session.info.pop(_RELEASED, None) or []
    own = session.info.pop(_PENDING, None) or []
    if not released and not own:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(LOCK)
    rows = [*released, *_claim_staged(session, own), *own]
    _ended_once(session, rows)
    # one statement per row: executemany keeps the order, and so the ids
    session.execute(insert(OutboxEvent.__table__), rows)
    session.info[_EMITTED] = True


def _claim_staged(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Staged events of the contacts these rows are about (an import's, not yet released):
    taken out of the stage to go first, so a contact's update never overtakes its import's
    `created`. Only for `contact-` keys (call events never pay this); indexed, usually none.
    Under the lock: a releaser claims under it too, so no row is claimed twice and the two
    never wait on each other's rows."""
    keys = {row["ordering_key"] for row in rows if row["ordering_key"].startswith("contact-")}
    if not keys:
        return []
    table = OutboxStaged.__table__
    ordered = sorted(keys)
    claimed = [row for start in range(0, len(ordered), 1000)  # bound parameters: 32,767 max
               for row in session.execute(
                   delete(table).where(table.c.ordering_key.in_(ordered[start:start + 1000]))
                   .returning(table.c.id, *(table.c[c] for c in COLUMNS)))]
    forgotten = {row["ordering_key"] for row in rows if row["type"] == "contact.changed"
                 and row["payload"].get("change") == "forgotten"}
    if forgotten:
        # a person forgotten (outbox/contacts.py forget_in_outbox scrubbed the outbox earlier
        # in this transaction): their staged events go in scrubbed, and so do any a releaser
        # moved in since that scrub (under the lock now: none can be moving)
        outbox = OutboxEvent.__table__
        session.execute(update(outbox).where(outbox.c.ordering_key.in_(forgotten))
                        .values(payload={"forgotten": True}))
    return [{column: getattr(row, column) for column in COLUMNS}
            | ({"payload": {"forgotten": True}} if row.ordering_key in forgotten else {})
            for row in sorted(claimed, key=lambda row: row.id)]


def _ended_once(session: Session, rows: list[dict[str, Any]]) -> None:
    """A call ends once. Two records of one call can be saved at once (the live writer's and
    the ledger's), each believing it is the first; under the lock, whichever commits second
    finds the first's call.ended here and becomes the call.updated it really is."""
    ended = {row["ordering_key"] for row in rows if row["type"] == "call.ended"}
    if not ended:
        return
    table = OutboxEvent.__table__
    before: dict[str, Any] = {}
    for key, payload in session.execute(
            select(table.c.ordering_key, table.c.payload)
            .where(table.c.ordering_key.in_(ended),
                   table.c.type.in_(("call.ended", "call.updated")))
            .order_by(table.c.id)):
        before[key] = payload  # the latest
    for row in rows:
        if row["type"] == "call.ended" and row["ordering_key"] in before:
            row["type"] = "call.updated"
            row["payload"] = {**row["payload"],
                              "previous_outcome": before[row["ordering_key"]].get("outcome")}
        if row["type"] in ("call.ended", "call.updated"):
            before[row["ordering_key"]] = row["payload"]


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_EMITTED, False):
        signal.notify()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)  # the change is undone: so are its events
    session.info.pop(_RELEASED, None)  # and the claim of staged rows: they are staged still
    session.info.pop(_EMITTED, None)
