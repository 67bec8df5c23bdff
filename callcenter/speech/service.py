"""Speech analytics' domain: saving what was heard, the QA rules evaluated on it, search,
reviews and the flags report. Raises domain errors (NotFound), never HTTP ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, and_, case, delete, false, func, literal_column, or_, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.calls.models import Call
from callcenter.policy import Viewer, redact_spoken
from callcenter.recordings.models import Recording
from callcenter.speech.engines import TrackWords
from callcenter.speech.models import QAFlag, QAReview, QARule, SpeechJob, Transcript
from callcenter.speech.text import LANGUAGES, Word, find_phrase, first_mention, stems, tokens

SNIPPET_WORDS = 6  # words either side of the moment in a search result


class NotFound(Exception):
    """No such object, or not one this viewer may see."""


# -- saving a transcription -------------------------------------------------------------------

def pending(*, since: datetime | None = None, retry_failed: bool = False, after_id: int = 0,
            limit: int = 10) -> Select[tuple[int, str, str]]:
    """Recordings not transcribed yet (oldest first, from after `after_id`): id, linkedid,
    path."""
    query = (select(Recording.id, Recording.linkedid, Recording.path)
             .outerjoin(SpeechJob, SpeechJob.recording_id == Recording.id)
             .where(Recording.id > after_id))
    if retry_failed:
        query = query.where(or_(SpeechJob.recording_id.is_(None), SpeechJob.status == "failed"))
    else:
        query = query.where(SpeechJob.recording_id.is_(None))
    if since is not None:
        query = query.where(Recording.created_at >= since)
    return query.order_by(Recording.id).limit(limit)


async def rule_phrases(session: AsyncSession, language: str) -> list[str]:
    """The active rules' phrases in a language: what an engine should listen for."""
    return sorted(set(await session.scalars(select(QARule.phrase).where(
        QARule.active, QARule.language == language))))


async def save_transcription(session: AsyncSession, recording_id: int, linkedid: str,
                             tracks: Sequence[TrackWords], engine: str) -> list[QAFlag]:
    """Stores each track's words and the flags the call's queue's rules raise on them.
    Commits. A recording deleted meanwhile is left alone."""
    if await session.get(Recording, recording_id) is None:
        return []
    now = datetime.now(UTC)
    await _clear(session, recording_id)
    transcripts = [Transcript(recording_id=recording_id, linkedid=linkedid, speaker=t.speaker,
                              language=t.language, text=" ".join(w.text for w in t.words),
                              words=[[w.text, w.start, w.end] for w in t.words], created_at=now)
                   for t in tracks]
    session.add_all(transcripts)
    session.add(SpeechJob(recording_id=recording_id, linkedid=linkedid, status="done",
                          engine=engine[:40], error=None, finished_at=now,
                          audio_seconds=max((t.seconds for t in tracks), default=0.0)))
    call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
    queue = call.queue if call else None
    rules = list(await session.scalars(select(QARule).where(
        QARule.active, or_(QARule.queue.is_(None), QARule.queue == queue))))
    flags = [QAFlag(recording_id=recording_id, linkedid=linkedid, rule_id=rule.id,
                    kind=rule.kind, phrase=rule.phrase, speaker=found.speaker,
                    agent=call.agent if call else None, queue=queue,
                    at_seconds=found.at, said=found.said, created_at=now)
             for rule in rules for found in evaluate(rule, tracks)]
    session.add_all(flags)
    await session.commit()
    return flags


async def save_failure(session: AsyncSession, recording_id: int, linkedid: str, engine: str,
                       error: str) -> None:
    if await session.get(Recording, recording_id) is None:
        return
    await _clear(session, recording_id)
    session.add(SpeechJob(recording_id=recording_id, linkedid=linkedid, status="failed",
                          engine=engine[:40], error=error[:400], finished_at=datetime.now(UTC)))
    await session.commit()


async def _clear(session: AsyncSession, recording_id: int) -> None:
    """A recording transcribed again (backfill of a failed one) replaces what it had."""
    for table in (QAFlag, Transcript, SpeechJob):
        await session.execute(delete(table).where(table.recording_id == recording_id))


@dataclass(frozen=True)
class Found:
    speaker: str
    at: float | None
    said: str | None


def evaluate(rule: QARule, tracks: Sequence[TrackWords]) -> list[Found]:
    """What a rule says of a recording's tracks: each time a forbidden phrase was said; a
    required phrase not said (in time) once. Only tracks in the rule's language count; a
    "mixed" track (no per-speaker tracks) stands for every speaker."""
    heard = [t for t in tracks if t.language == rule.language
             and (rule.speaker == "any" or t.speaker in (rule.speaker, "mixed"))]
    if not heard:
        return []
    if rule.kind == "forbidden":
        return [Found(t.speaker, round(m.start, 2), m.said[:400])
                for t in heard for m in find_phrase(rule.phrase, t.words, rule.language)]
    said = [m for t in heard for m in find_phrase(rule.phrase, t.words, rule.language)
            if rule.within_seconds is None or m.start <= rule.within_seconds]
    return [] if said else [Found(heard[0].speaker, None, None)]


# -- reading transcripts ----------------------------------------------------------------------

def _words(transcript: Transcript) -> list[Word]:
    return [Word(str(w[0]), float(w[1]), float(w[2])) for w in transcript.words]


def shown_words(words: Sequence[Word], viewer: Viewer) -> list[Word]:
    """Words as the viewer may see them: numbers spoken in a transcript are masked for
    agents (policy.redact_spoken), so a card number read out is not read back."""
    if viewer.sees_everything:
        return list(words)
    masked = redact_spoken([w.text for w in words])
    return [Word(text, w.start, w.end) for text, w in zip(masked, words, strict=True)]


def _visible(query: Select, viewer: Viewer, agent: str | None) -> Select:
    """Agents see transcripts of their own calls only."""
    if viewer.sees_everything:
        return query
    if agent is None:
        return query.where(false())
    return query.where(Call.agent == agent)


async def transcripts_of(session: AsyncSession, linkedid: str, viewer: Viewer,
                         agent: str | None) -> list[tuple[Transcript, list[Word]]]:
    query = _visible(select(Transcript).join(Call, Call.linkedid == Transcript.linkedid)
                     .where(Transcript.linkedid == linkedid)
                     .order_by(Transcript.recording_id, Transcript.speaker), viewer, agent)
    found = list(await session.scalars(query))
    if not found:
        raise NotFound(linkedid)
    return [(t, shown_words(_words(t), viewer)) for t in found]


@dataclass(frozen=True)
class Hit:
    linkedid: str
    recording_id: int
    speaker: str
    language: str
    agent: str | None
    queue: str | None
    started_at: datetime
    at_seconds: float | None
    snippet: str


def _matches(dialect: str, query: str, language: str | None) -> object:
    """Full text in PostgreSQL: the transcripts' stored vector (Russian and English stems,
    GIN-indexed, migration 0011) against the query stemmed in the language asked for, or in
    both; elsewhere each query word's stem as a substring."""
    codes = [language] if language else list(LANGUAGES)
    if dialect == "postgresql":
        queries = [func.websearch_to_tsquery(literal_column(f"'{LANGUAGES[c]}'::regconfig"),
                                             query) for c in codes]
        wanted = queries[0] if len(queries) == 1 else queries[0].op("||")(queries[1])
        return literal_column("transcripts.search_vector").op("@@")(wanted)
    return or_(*(and_(*(func.lower(Transcript.text).contains(s) for s in stems(query, code)))
                 for code in codes))


DENSE = 2000  # a query matching more transcripts than this is found by walking the newest


async def _rare(session: AsyncSession, matches: object) -> bool:
    """Whether PostgreSQL expects fewer than DENSE transcripts to match, from its statistics
    of the stored vectors (EXPLAIN: planned, not run; well under a millisecond)."""
    found = select(literal_column("1")).select_from(Transcript).where(matches)
    compiled = found.compile(dialect=session.bind.dialect)
    connection = await session.connection()
    plan = (await connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}",
        tuple(compiled.params[name] for name in compiled.positiontup or ()))).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"]) < DENSE


async def search(session: AsyncSession, query: str, viewer: Viewer, agent: str | None, *,
                 language: str | None = None, speaker: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 limit: int = 50, offset: int = 0) -> list[Hit]:
    """Transcripts that say the query (any form of its words), newest first, each with the
    second of the first mention, for a player to jump there. For everyone who sees every
    call, newest by transcript, not by the call's start: the primary key walked backwards
    stops at `limit` even for a word said in most calls (the call order would sort every
    match first). For an agent, newest by their call's start: their calls walked backwards on
    (agent, started_at) stop at `limit` the same way, where one by one the agent's whole
    history was read and sorted (255 ms p99 with 5,000 calls each, cold)."""
    if not tokens(query):
        return []
    dialect = session.bind.dialect.name
    matches = _matches(dialect, query, language)
    statement = (select(Transcript, Call.agent, Call.queue, Call.started_at)
                 .join(Call, Call.linkedid == Transcript.linkedid).where(matches))
    statement = _visible(statement, viewer, agent)
    if language:
        statement = statement.where(Transcript.language == language)
    if speaker:
        statement = statement.where(Transcript.speaker == speaker)
    if since:
        statement = statement.where(Call.started_at >= since)
    if until:
        statement = statement.where(Call.started_at < until)
    if dialect == "postgresql":
        # planned for this query's words each time: the statement's text is the same for
        # every query, and after a few runs PostgreSQL kept one generic plan, good for the
        # words it was first run with; for a common word after rare ones, 210 ms instead of 5
        await session.execute(sql("SET LOCAL plan_cache_mode = force_custom_plan"))
    if not viewer.sees_everything:
        # a rare word too: PostgreSQL weighs the agent's calls against the word's index itself
        statement = statement.order_by(Call.started_at.desc(), Transcript.id.desc())
    elif dialect == "postgresql" and await _rare(session, matches):
        # a rare word: its matches from the index, then sorted (walking the newest
        # transcripts would test thousands before the first few matches)
        statement = statement.order_by((Transcript.id + 0).desc())
    else:
        statement = statement.order_by(Transcript.id.desc())
    hits = []
    for transcript, call_agent, queue, started_at in (
            await session.execute(statement.limit(limit).offset(offset))).all():
        words = _words(transcript)
        wanted = set(stems(query, transcript.language))
        moment = first_mention(wanted, words, transcript.language)
        at = words.index(moment) if moment is not None else 0
        shown = shown_words(words[max(0, at - SNIPPET_WORDS):at + SNIPPET_WORDS + 1], viewer)
        hits.append(Hit(transcript.linkedid, transcript.recording_id, transcript.speaker,
                        transcript.language, call_agent, queue, started_at,
                        moment.start if moment is not None else None,
                        " ".join(w.text for w in shown)))
    return hits


# -- QA: rules, flags, reviews, report ------------------------------------------------------

async def flagged_calls(session: AsyncSession, *, queue: str | None = None,
                        agent: str | None = None, reviewed: bool | None = None,
                        since: datetime | None = None, linkedid: str | None = None,
                        phrase: str | None = None, limit: int = 100,
                        offset: int = 0) -> list[tuple[QAFlag, QAReview | None]]:
    query = (select(QAFlag, QAReview).outerjoin(QAReview, QAReview.linkedid == QAFlag.linkedid)
             .order_by(QAFlag.created_at.desc(), QAFlag.id.desc()))
    if linkedid:
        query = query.where(QAFlag.linkedid == linkedid)
    if queue:
        query = query.where(QAFlag.queue == queue)
    if agent:
        query = query.where(QAFlag.agent == agent)
    if phrase:
        query = query.where(QAFlag.phrase == phrase)
    if since:
        query = query.where(QAFlag.created_at >= since)
    if reviewed is True:
        query = query.where(QAReview.reviewed)
    elif reviewed is False:
        query = query.where(or_(QAReview.linkedid.is_(None), ~QAReview.reviewed))
    return [(f, r) for f, r in (await session.execute(query.limit(limit).offset(offset))).all()]


async def review(session: AsyncSession, linkedid: str, *, by: str, reviewed: bool,
                 score: int | None, exemplary: bool, note: str | None,
                 commit: bool = True) -> QAReview:
    """A supervisor's verdict on a call (recorded and transcribed): replaces the last one."""
    if await session.scalar(select(Recording.id).where(Recording.linkedid == linkedid)
                            .limit(1)) is None:
        raise NotFound(linkedid)
    found = await session.get(QAReview, linkedid)
    if found is None:
        found = QAReview(linkedid=linkedid)
        session.add(found)
    found.reviewed, found.score, found.exemplary, found.note = reviewed, score, exemplary, note
    found.reviewed_by, found.reviewed_at = by, datetime.now(UTC)
    await session.flush()
    if commit:
        await session.commit()
    return found


async def report(session: AsyncSession, *, since: datetime | None = None,
                 until: datetime | None = None) -> dict[str, list[dict[str, object]]]:
    """Flags per agent (and how many of their flagged calls were reviewed) and per phrase."""
    window = []
    if since:
        window.append(QAFlag.created_at >= since)
    if until:
        window.append(QAFlag.created_at < until)
    by_agent = (await session.execute(
        select(QAFlag.agent, func.count(), func.count(func.distinct(QAFlag.linkedid)),
               func.sum(case((QAFlag.kind == "forbidden", 1), else_=0)))
        .where(*window).group_by(QAFlag.agent).order_by(func.count().desc()))).all()
    by_phrase = (await session.execute(
        select(QAFlag.phrase, QAFlag.kind, func.count(),
               func.count(func.distinct(QAFlag.agent)))
        .where(*window).group_by(QAFlag.phrase, QAFlag.kind)
        .order_by(func.count().desc()))).all()
    return {
        "by_agent": [{"agent": a, "flags": n, "calls": calls, "forbidden": int(fb or 0),
                      "required_missing": n - int(fb or 0)} for a, n, calls, fb in by_agent],
        "by_phrase": [{"phrase": p, "kind": k, "flags": n, "agents": agents}
                      for p, k, n, agents in by_phrase],
    }
