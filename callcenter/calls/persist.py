"""Saving call records: one row per call, corrected by better evidence, never written twice.

Evidence, from weakest to best: a call closed after a gap with its end inferred (1), a call
followed live on AMI (2), a call derived from Asterisk's own CEL and queue_log (3). A record
replaces the stored one only when its evidence is strictly better, so a live record is
corrected by the ledger's, and neither is ever written twice. What only the live path can
know (the caller's contact, VIP, the IVR path, the consent flags, the agent's interface) is
kept when the ledger's record does not know it. A replaced record's legs and queue stays are
replaced with it, never appended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.callbacks.models import Callback
from callcenter.callbacks.service import CallbackChange, apply_changes
from callcenter.calls.models import Call, CallLeg
from callcenter.calls.tracker import CallRecord
from callcenter.db import upsert
from callcenter.outbox.catalogue import call_record
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.recordings import recording_ready_events, returning_columns
from callcenter.queues.models import QueueEntry
from callcenter.recordings.consent import settle_unknown_consent
from callcenter.recordings.files import recording_row
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import delete_recordings

EVIDENCE_INFERRED, EVIDENCE_LIVE, EVIDENCE_LEDGER = 1, 2, 3
# Callers who waited in a queue and were not answered: to be called back.
CALLBACK_OUTCOMES = frozenset({"abandoned", "timeout", "no_agent", "exit_with_key",
                               "withdrawn"})
_NOT_CALL_COLUMNS = frozenset({"recordings", "legs", "queue_entries"})
# only the live path learns these: a ledger record that does not know them keeps them
_KEPT_IF_UNKNOWN = ("caller_name", "contact_id", "ivr_path", "agent", "agent_interface")
_KEPT_IF_SET = ("vip", "recording_opt_out", "consent_unknown")


def evidence(record: CallRecord) -> int:
    if record.source == "ledger":
        return EVIDENCE_LEDGER
    return EVIDENCE_INFERRED if record.end_inferred else EVIDENCE_LIVE


@dataclass(frozen=True, slots=True)
class SavedCall:
    record: CallRecord
    replaced_outcome: str | None  # the outcome it corrected; None: a new call
    consent_unknown: bool  # as stored, with what the live record knew


def row_of(record: object, exclude: frozenset[str] = frozenset()) -> dict[str, object]:
    """A record's fields as a row; shallow (dataclasses.asdict deep-copies, and was the
    writer's main cost in the ingest benchmark)."""
    return {f.name: getattr(record, f.name) for f in fields(record)  # type: ignore[arg-type]
            if f.name not in exclude}


async def save_calls(session: AsyncSession, calls: Sequence[CallRecord], *, final: bool,
                     keep_unanswered_recordings: bool,
                     delete_opted_out: bool = True) -> list[SavedCall]:
    """Writes the calls whose evidence beats what is stored, with their legs, queue stays,
    recordings and callbacks, in the caller's transaction. `final`: these records are the
    last word (the ledger's, or the live path's when there is no ledger): the recordings of
    unanswered calls are deleted, per policy, and so are those made without knowing whether
    the caller had opted out, when they had (`delete_opted_out`; False: opted-out callers are
    recorded and flagged, recording_opt_out="flag")."""
    best: dict[str, CallRecord] = {}
    for call in calls:
        if call.linkedid not in best or evidence(call) >= evidence(best[call.linkedid]):
            best[call.linkedid] = call
    if not best:
        return []
    table = Call.__table__
    stored = {row.linkedid: row for row in await session.execute(
        select(table.c.linkedid, table.c.evidence, table.c.outcome)
        .where(table.c.linkedid.in_(best)))}
    candidates = [c for lid, c in best.items()
                  if lid not in stored or stored[lid].evidence < evidence(c)]
    known = [c for lid, c in best.items()
             if lid in stored and stored[lid].evidence > evidence(c)]
    if known:  # e.g. the live record after the ledger's: what only it knows is still added
        await _add_what_only_it_knows(session, known, stored,
                                      delete_opted_out=delete_opted_out)
    if not candidates:
        return []
    dialect = session.bind.dialect.name
    statement = upsert(dialect, table)
    excluded = statement.excluded
    columns = [name for name in row_of(candidates[0], _NOT_CALL_COLUMNS) if name != "linkedid"]
    changes = {name: excluded[name] for name in [*columns, "evidence"]}
    for name in _KEPT_IF_UNKNOWN:
        changes[name] = func.coalesce(excluded[name], table.c[name])
    for name in _KEPT_IF_SET:
        changes[name] = or_(excluded[name], table.c[name])
    statement = statement.on_conflict_do_update(
        index_elements=["linkedid"], set_=changes,
        where=table.c.evidence < excluded.evidence,
    ).returning(table.c.linkedid, table.c.consent_unknown)
    rows = [{**row_of(c, _NOT_CALL_COLUMNS), "evidence": evidence(c)} for c in candidates]
    written = {row.linkedid: row.consent_unknown
               for row in await session.execute(statement, rows)}
    saved = [SavedCall(c, stored[c.linkedid].outcome if c.linkedid in stored else None,
                       bool(written[c.linkedid]))
             for c in candidates if c.linkedid in written]
    if not saved:
        return []
    await _emit_calls(session, saved)
    replaced = [s.record.linkedid for s in saved if s.replaced_outcome is not None]
    if replaced:
        await session.execute(delete(CallLeg).where(CallLeg.linkedid.in_(replaced)))
        await session.execute(delete(QueueEntry).where(QueueEntry.linkedid.in_(replaced)))
    legs = [row_of(leg) for s in saved for leg in s.record.legs]
    if legs:
        await session.execute(upsert(dialect, CallLeg.__table__).on_conflict_do_nothing(
            index_elements=["uniqueid"]), legs)
    entries = [row_of(e) for s in saved for e in s.record.queue_entries]
    if entries:
        await session.execute(upsert(dialect, QueueEntry.__table__).on_conflict_do_nothing(
            index_elements=["linkedid", "uniqueid", "entered_at"]), entries)
    await _save_recordings(session, [s.record for s in saved], final=final,
                           keep_unanswered=keep_unanswered_recordings)
    if final and delete_opted_out:
        for call in saved:  # recorded before anyone could say whether the caller opted out
            if call.consent_unknown:
                await settle_unknown_consent(session, linkedid=call.record.linkedid,
                                             caller=call.record.caller,
                                             recordings=call.record.recordings)
    await _update_callbacks(session, saved)
    return saved


async def _emit_calls(session: AsyncSession, saved: list[SavedCall]) -> None:
    """A call's first record emits call.ended; a record replacing it with better evidence
    (the ledger's after the live one, a live one after an inferred end) emits call.updated
    with the outcome it corrected: a call ends once, and a CRM is told of every correction.
    A record no better than the stored one changes nothing of substance and emits nothing."""
    await emit_many(session, [
        Event("call.ended", call_record(s.record, evidence(s.record)), s.record.linkedid,
              s.record.agent)
        if s.replaced_outcome is None else
        Event("call.updated", {**call_record(s.record, evidence(s.record)),
                               "previous_outcome": s.replaced_outcome},
              s.record.linkedid, s.record.agent)
        for s in saved])


async def _add_what_only_it_knows(session: AsyncSession, calls: list[CallRecord],
                                  stored: dict[str, Any], *, delete_opted_out: bool) -> None:
    """A record no better than the stored one replaces nothing, but what only the live path
    learns (contact, VIP, IVR path, consent flags, the agent's interface) fills the stored
    record's blanks; a recording of unknown consent is then settled if the record is final."""
    table = Call.__table__
    statement = update(table).where(table.c.linkedid == bindparam("key")).values(
        {name: func.coalesce(table.c[name], bindparam(name)) for name in _KEPT_IF_UNKNOWN}
        | {name: or_(table.c[name], bindparam(name)) for name in _KEPT_IF_SET})
    connection = await session.connection()
    await connection.execute(statement, [
        {"key": c.linkedid, **{name: getattr(c, name)
                               for name in (*_KEPT_IF_UNKNOWN, *_KEPT_IF_SET)}}
        for c in calls])
    if delete_opted_out:
        for call in calls:
            if call.consent_unknown and stored[call.linkedid].evidence == EVIDENCE_LEDGER:
                await settle_unknown_consent(session, linkedid=call.linkedid,
                                             caller=call.caller, recordings=call.recordings)


async def _save_recordings(session: AsyncSession, calls: list[CallRecord], *, final: bool,
                           keep_unanswered: bool) -> None:
    """Links the calls' recordings; a final record of a call nobody answered deletes them
    (files and rows) unless configured to keep them."""
    dropped = [c for c in calls if final and not keep_unanswered and c.answered_at is None]
    kept = [c for c in calls if c not in dropped]
    if dropped:
        doomed = [lid for lid in [c.linkedid for c in dropped]]
        paths = {p for c in dropped for p in c.recordings}
        paths |= set(await session.scalars(select(Recording.path).where(
            Recording.linkedid.in_(doomed))))
        await asyncio.to_thread(delete_recordings, paths)
        await session.execute(delete(Recording).where(Recording.linkedid.in_(doomed)))
    recordings = await asyncio.to_thread(  # stats files: off the event loop
        lambda: [recording_row(c.linkedid, path, c.answered_at or c.started_at)
                 for c in kept for path in c.recordings])
    if recordings:
        table = Recording.__table__
        added = list(await session.execute(
            upsert(session.bind.dialect.name, table)
            .on_conflict_do_nothing(index_elements=["path"])
            .returning(*returning_columns(table)), recordings))
        await emit_many(session, recording_ready_events(added))


async def _update_callbacks(session: AsyncSession, saved: list[SavedCall]) -> None:
    """Abandoned callers become callbacks; a connected call closes the number's callbacks; a
    corrected record withdraws the callback its first version asked for."""
    withdrawn = [s.record.linkedid for s in saved
                 if s.replaced_outcome in CALLBACK_OUTCOMES
                 and s.record.outcome not in CALLBACK_OUTCOMES]
    if withdrawn:
        await session.execute(update(Callback).where(
            Callback.linkedid.in_(withdrawn), Callback.status == "open",
        ).values(status="done", closed_at=datetime.now(UTC)))
    changes = [change for s in saved
               if s.replaced_outcome is None or (s.replaced_outcome in CALLBACK_OUTCOMES) != (
                   s.record.outcome in CALLBACK_OUTCOMES)
               if (change := callback_change(s.record)) is not None]
    if changes:
        await apply_changes(session, changes)


def callback_change(call: CallRecord) -> CallbackChange | None:
    """Abandoned callers become callbacks; a connected call with the number closes them."""
    customer = call.called if call.direction == "outbound" else call.caller
    if customer is None or call.direction == "internal":
        return None
    if call.outcome in ("answered", "transferred"):
        return CallbackChange("close", customer, call.answered_at or call.ended_at,
                              call.linkedid)
    if call.direction == "inbound" and call.queue and call.outcome in CALLBACK_OUTCOMES:
        return CallbackChange("request", customer, call.ended_at, call.linkedid, call.queue,
                              "abandoned", call.wait_seconds)
    return None

