"""Speech analytics on both databases: transcripts saved per speaker, QA rules raising flags
on Russian word forms, search (PostgreSQL full text / SQLite fallback) with the moment and
the role rules, and transcripts deleted with their recordings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from callcenter.calls.models import Call
from callcenter.db import session_factory
from callcenter.policy import Viewer
from callcenter.recordings.models import Recording
from callcenter.speech import service as speech
from callcenter.speech.engines import TrackWords
from callcenter.speech.models import QAFlag, QARule, SpeechJob, Transcript
from callcenter.speech.text import Word

SUPERVISOR = Viewer("supervisor")
AGENT = Viewer("agent")


def said(text: str, start: float = 0.0, step: float = 0.5) -> list[Word]:
    return [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split())]


async def _call(session, tag: str, agent: str, queue: str) -> tuple[str, int]:
    linkedid = f"{tag}-{agent}"
    now = datetime.now(UTC)
    session.add(Call(linkedid=linkedid, direction="inbound", caller="+79161234567",
                     started_at=now, answered_at=now, ended_at=now, queue=queue, agent=agent,
                     outcome="answered", end_inferred=False))
    recording = Recording(linkedid=linkedid, path=f"/nowhere/{linkedid}.wav", format="wav",
                          created_at=now)
    session.add(recording)
    await session.flush()
    return linkedid, recording.id


async def test_transcripts_flags_search_roles_and_deletion(database):
    sessions = session_factory(database)
    tag = uuid.uuid4().hex[:10]
    queue = f"q{tag}"
    async with sessions() as session:
        for kind, phrase, within in (("forbidden", "это ваша вина", None),
                                     ("forbidden", "девушка", None),
                                     ("required", "добрый день", 5.0)):
            session.add(QARule(queue=queue, kind=kind, phrase=phrase, language="ru",
                               speaker="agent", within_seconds=within, active=True,
                               created_at=datetime.now(UTC)))
        anna, anna_rec = await _call(session, tag, "Anna", queue)
        boris, boris_rec = await _call(session, tag, "Boris", queue)
        await session.commit()
        # Anna greets, then "это было вашей виной" (the phrase's words, not in a row);
        # the customer says "девушка" (customers may), reads out a card number
        anna_flags = await speech.save_transcription(session, anna_rec, anna, [
            TrackWords("agent", "ru", said("добрый день компания ромашка") +
                       said("простите но это было вашей виной", start=7.0), 12.0),
            TrackWords("customer", "ru", said("девушка мой номер девять один шесть два", 3.0),
                       12.0)], "test")
        # Boris forgets the greeting and calls the customer "девушкой"
        boris_flags = await speech.save_transcription(session, boris_rec, boris, [
            TrackWords("agent", "ru", said("алло я с девушкой поговорю", start=1.0), 6.0),
            TrackWords("customer", "ru", [], 6.0)], "test")

    # greeted in time; "это было вашей виной" is not the phrase's words one after another;
    # the customer saying "девушка" is not a flag (the rule is about agents)
    assert anna_flags == []
    async with sessions() as session:  # transcribed again (backfill): replaced, not added
        await speech.save_transcription(session, anna_rec, anna, [
            TrackWords("agent", "ru", said("добрый день компания ромашка") +
                       said("простите но это ваша вина", start=7.0), 12.0),
            TrackWords("customer", "ru", said("девушка мой номер девять один шесть два", 3.0),
                       12.0)], "test")
        flags = list(await session.scalars(select(QAFlag).where(QAFlag.queue == queue)
                                           .order_by(QAFlag.agent, QAFlag.phrase)))
    assert [(f.agent, f.kind, f.phrase, f.speaker, f.at_seconds) for f in flags] == [
        ("Anna", "forbidden", "это ваша вина", "agent", 8.0),
        ("Boris", "forbidden", "девушка", "agent", 2.5),
        ("Boris", "required", "добрый день", "agent", None)]
    assert [f.said for f in boris_flags if f.kind == "forbidden"] == ["девушкой"]

    async with sessions() as session:
        # any form of the word finds it; the moment is where it was said
        hits = [h for h in await speech.search(session, "девушки", SUPERVISOR, None)
                if h.linkedid in (anna, boris)]
        assert sorted((h.linkedid, h.speaker, h.at_seconds) for h in hits) == [
            (anna, "customer", 3.0), (boris, "agent", 2.5)]
        # agents: their own calls only, spoken numbers masked
        mine = [h for h in await speech.search(session, "номер", AGENT, "Anna")
                if h.linkedid.startswith(tag)]
        assert [(h.linkedid, h.agent) for h in mine] == [(anna, "Anna")]
        assert "девять" not in mine[0].snippet and "***" in mine[0].snippet
        assert [h for h in await speech.search(session, "девушка", AGENT, "Boris")
                if h.linkedid == anna] == []
        full = await speech.search(session, "номер", SUPERVISOR, None, speaker="customer")
        assert any("девять один шесть" in h.snippet for h in full if h.linkedid == anna)
        # English stemming too
        session.add(Transcript(recording_id=boris_rec, linkedid=boris, speaker="agent",
                               language="en", text="it was your faults",
                               created_at=datetime.now(UTC),
                               words=[["it", 0, 1], ["was", 1, 2], ["your", 2, 3],
                                      ["faults", 3, 4]]))
        await session.commit()
        hits = [h for h in await speech.search(session, "fault", SUPERVISOR, None, language="en")
                if h.linkedid == boris]
        assert [h.at_seconds for h in hits] == [3.0]

        # a recording deleted (retention, forget-me): its transcripts and flags go with it
        await session.execute(delete(Recording).where(Recording.id == anna_rec))
        await session.commit()
        left = {table.__tablename__: await session.scalar(
            select(func.count()).select_from(table).where(table.recording_id == anna_rec))
            for table in (Transcript, QAFlag, SpeechJob)}
    assert left == {"transcripts": 0, "qa_flags": 0, "speech_jobs": 0}


async def test_an_agents_search_lists_their_latest_calls_first(database):
    """Backfill transcribes old calls after new ones: an agent still finds their latest calls
    first (walked on their calls' index), while those who see every call get the newest
    transcripts first (walked on the transcripts' key)."""
    sessions = session_factory(database)
    tag = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    async with sessions() as session:
        calls = {}
        for hours in (1, 2, 3):
            linkedid = f"{tag}-{hours}h"
            started = now - timedelta(hours=hours)
            session.add(Call(linkedid=linkedid, direction="inbound", caller="+79161234567",
                             started_at=started, answered_at=started, ended_at=started,
                             queue=f"q{tag}", agent=f"Vera{tag}", outcome="answered",
                             end_inferred=False))
            recording = Recording(linkedid=linkedid, path=f"/nowhere/{linkedid}.wav",
                                  format="wav", created_at=now)
            session.add(recording)
            await session.flush()
            calls[hours] = (linkedid, recording.id)
        await session.commit()
        for hours in (2, 1, 3):  # the oldest call transcribed last (backfill)
            linkedid, recording_id = calls[hours]
            await speech.save_transcription(session, recording_id, linkedid, [
                TrackWords("agent", "ru", said(f"доставка заказа {tag}"), 3.0),
                TrackWords("customer", "ru", [], 3.0)], "test")
    async with sessions() as session:
        mine = await speech.search(session, f"доставка {tag}", AGENT, f"Vera{tag}")
        assert [h.linkedid for h in mine] == [calls[1][0], calls[2][0], calls[3][0]]
        everyone = [h.linkedid for h in await speech.search(
            session, f"доставка {tag}", SUPERVISOR, None) if h.linkedid.startswith(tag)]
        assert everyone == [calls[3][0], calls[1][0], calls[2][0]]
