"""Recordings made with consent unknown: deleted (and audited) when the caller had opted out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.audit.models import AuditEntry
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.recordings.consent import settle_unknown_consent
from callcenter.recordings.models import Recording

OPTED_OUT = "+79031234567"
CONSENTING = "+79037654321"


@pytest.fixture
async def sessions(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/consent.db"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    factory = session_factory(engine)
    async with factory() as session:
        for name, number, opt_out in [("Private", OPTED_OUT, True),
                                      ("Open", CONSENTING, False)]:
            contact = Contact(name=name, recording_opt_out=opt_out)
            contact.numbers.append(ContactNumber(number=number))
            session.add(contact)
        await session.commit()
    yield factory
    await engine.dispose()


def on_disk(paths: list[str]) -> list[str]:
    return [p for p in paths if Path(p).exists()]


async def recorded(sessions, tmp_path, linkedid: str) -> list[str]:
    """A call's recording on disk with its row, and a second file the row-writer missed."""
    day = tmp_path / "recordings" / "2026" / "11" / "24"
    day.mkdir(parents=True, exist_ok=True)
    linked, unlinked = day / f"{linkedid}.wav", day / f"{linkedid}-agent.wav"
    for path in (linked, unlinked):
        path.write_bytes(b"RIFF" + bytes(100))
    async with sessions() as session:
        session.add(Recording(linkedid=linkedid, path=str(linked), format="wav",
                              created_at=datetime.now(UTC)))
        await session.commit()
    return [str(linked), str(unlinked)]


async def test_an_opted_out_callers_recording_is_deleted_and_audited(sessions, tmp_path,
                                                                      caplog):
    files = await recorded(sessions, tmp_path, "1700000000.1")
    other_call = await recorded(sessions, tmp_path, "1700000000.9")

    with caplog.at_level(logging.INFO):
        async with sessions() as session:
            deleted = await settle_unknown_consent(session, linkedid="1700000000.1",
                                                   caller=OPTED_OUT, recordings=files[1:])
            await session.commit()

    assert deleted is True
    assert on_disk(files) == []
    assert on_disk(other_call) == other_call
    async with sessions() as session:
        left = (await session.scalars(select(Recording.linkedid))).all()
        [entry] = (await session.scalars(select(AuditEntry))).all()
    assert left == ["1700000000.9"]
    assert (entry.username, entry.action, entry.object_type, entry.object_id) == (
        "system", "recording.deleted_opt_out", "call", "1700000000.1")
    assert "files=2" in (entry.details or "")
    assert OPTED_OUT not in caplog.text and OPTED_OUT not in (entry.details or "")


@pytest.mark.parametrize("caller", [CONSENTING, "+74951112233", None])
async def test_a_recording_stays_when_the_caller_had_not_opted_out(sessions, tmp_path, caller):
    files = await recorded(sessions, tmp_path, "1700000000.2")

    async with sessions() as session:
        deleted = await settle_unknown_consent(session, linkedid="1700000000.2", caller=caller,
                                               recordings=files)
        await session.commit()

    assert deleted is False
    assert on_disk(files) == files
    async with sessions() as session:
        assert (await session.scalars(select(Recording.linkedid))).all() == ["1700000000.2"]
        assert (await session.scalars(select(AuditEntry))).all() == []
