"""Every recording file is linked to its call or deleted, as policy says.

MixMonitor's file is named after the call's Linkedid (recordings/paths.py), so a file no
`recordings` row points at still says which call it belongs to: one whose final record is
written is linked (answered, or kept by policy) or deleted (nobody answered). Files of calls
with no final record yet are left for the ledger; files of no known call are reported, never
deleted: audio nobody can place is for a person to look at.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.db import upsert
from callcenter.outbox.emit import emit_many
from callcenter.outbox.recordings import recording_ready_events, returning_columns
from callcenter.recordings.files import recording_row
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import delete_recordings

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    linked: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # files of no call we know


async def sweep_orphans(session: AsyncSession, recordings_dir: Path, *, older_than: datetime,
                        days: int, final_source: str | None,
                        keep_unanswered: bool) -> SweepReport:
    """Links or deletes the files of the last `days` days' folders last written before
    `older_than` that no `recordings` row points at. `final_source`: the source of final
    records ("ledger"), or None when every record is final (no ledger)."""
    folders = [recordings_dir / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
               for day in (older_than - timedelta(days=n) for n in range(days))]
    files = await asyncio.to_thread(_files_before, folders, older_than.timestamp())
    report = SweepReport()
    if not files:
        return report
    known = set(await session.scalars(select(Recording.path).where(
        Recording.path.in_([str(f) for f in files]))))
    orphans = [f for f in files if str(f) not in known]
    if not orphans:
        return report
    calls = {c.linkedid: c for c in await session.scalars(
        select(Call).where(Call.linkedid.in_({f.stem for f in orphans})))}
    rows = []
    for file in orphans:
        call = calls.get(file.stem)
        if call is None:
            report.unknown.append(str(file))
        elif final_source is not None and call.source != final_source:
            continue  # not final yet: the ledger links or deletes it
        elif call.answered_at is not None or keep_unanswered:
            rows.append(recording_row(call.linkedid, str(file),
                                      call.answered_at or call.started_at))
            report.linked.append(str(file))
        else:
            report.deleted.append(str(file))
    if rows:
        table = Recording.__table__
        added = list(await session.execute(
            upsert(session.bind.dialect.name, table)
            .on_conflict_do_nothing(index_elements=["path"])
            .returning(*returning_columns(table)), rows))
        await emit_many(session, recording_ready_events(added))  # committed below, with them
    if report.deleted:
        await asyncio.to_thread(delete_recordings, report.deleted)
        await session.execute(delete(Recording).where(Recording.path.in_(report.deleted)))
        for path in report.deleted:
            audit(session, username="system", action="recording.deleted_unanswered",
                  object_type="call", object_id=Path(path).stem, details="orphan sweep")
    await session.commit()
    if report.linked or report.deleted or report.unknown:
        log.info("recording files swept", extra={
            "linked": len(report.linked), "deleted": len(report.deleted),
            "unknown": len(report.unknown)})
    return report


def _files_before(folders: list[Path], before: float) -> list[Path]:
    found = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < before:
                    found.append(Path(entry.path))
            except FileNotFoundError:
                continue
    return found

