"""The orphan sweep: every recording file linked to its call or deleted by policy."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.audit.models import AuditEntry
from callcenter.calls.models import Call
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import recording_path
from callcenter.recordings.sweep import sweep_orphans


async def test_orphans_linked_deleted_or_reported(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/sweep.db"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    directory = tmp_path / "recordings"

    def file(linkedid: str, age: timedelta) -> str:
        path = recording_path(directory, linkedid, now - age, "wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        stamp = (now - age).timestamp()
        os.utime(path, (stamp, stamp))
        return str(path)

    calls = {"answered": ("ledger", True), "unanswered": ("ledger", False),
             "provisional": ("ami", False), "linked": ("ledger", True)}
    async with sessions() as session:
        for linkedid, (source, answered) in calls.items():
            session.add(Call(linkedid=linkedid, direction="inbound", started_at=now,
                             ended_at=now, answered_at=now if answered else None,
                             outcome="answered" if answered else "abandoned", source=source,
                             evidence=3 if source == "ledger" else 2, end_inferred=False))
        paths = {name: file(name, timedelta(hours=1)) for name in [*calls, "stranger"]}
        paths["fresh"] = file("answered-too", timedelta(seconds=5))
        session.add(Recording(linkedid="linked", path=paths["linked"], format="wav",
                              created_at=now))
        await session.commit()
        report = await sweep_orphans(session, directory, older_than=now - timedelta(minutes=10),
                                     days=2, final_source="ledger", keep_unanswered=False)
    assert (report.linked, report.deleted, report.unknown) == (
        [paths["answered"]], [paths["unanswered"]], [paths["stranger"]])
    exists = await asyncio.to_thread(lambda: {k: os.path.exists(p) for k, p in paths.items()})
    assert exists == {"answered": True, "unanswered": False, "provisional": True,
                      "linked": True, "stranger": True, "fresh": True}
    async with sessions() as session:
        linked = set(await session.scalars(select(Recording.linkedid)))
        audited = list(await session.scalars(select(AuditEntry.object_id).where(
            AuditEntry.action == "recording.deleted_unanswered")))
    assert linked == {"answered", "linked"}
    assert audited == ["unanswered"]
    await engine.dispose()
