"""Speech analytics over HTTP: searching transcripts, reading one call's, and the QA side
(phrase rules, flagged calls, reviews, the flags report).

Role rules as everywhere: agents search and read transcripts of their own calls only, with
numbers spoken in them masked (policy.redact_spoken); QA is for supervisors and admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from callcenter.api.auth import Agent, Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors
from callcenter.api.fields import Limit, ObjectId, Offset, Timestamp, multiline, queue_name, text
from callcenter.audit.log import audit
from callcenter.policy import Viewer
from callcenter.speech import service as speech
from callcenter.speech.models import QAFlag, QAReview, QARule, Transcript
from callcenter.speech.text import tokens

router = APIRouter(tags=["speech"])
Linkedid = text(Transcript.linkedid, min_length=1)
Query_ = Annotated[text(200, min_length=1), Query(description="words to find, any form "
                                                  "(stemmed); \"quoted phrase\", -not")]
Language = Literal["ru", "en"]
Speaker = Literal["agent", "customer", "mixed"]


class SearchHit(BaseModel):
    linkedid: str
    recording_id: int
    speaker: str
    language: str
    agent: str | None
    queue: str | None
    started_at: datetime
    at_seconds: float | None = Field(description="where the first match was said, in seconds "
                                     "from the recording's start: where a player jumps")
    snippet: str


@router.get("/transcripts/search", response_model=list[SearchHit])
async def search_transcripts(q: Query_, principal: Agent, db: DbDep,
                             language: Language | None = None, speaker: Speaker | None = None,
                             since: Timestamp | None = None, until: Timestamp | None = None,
                             limit: Limit = 50, offset: Offset = 0) -> list[SearchHit]:
    """Calls whose transcript says `q` (full text, Russian and English stemming), newest
    first; each with who said it and when."""
    hits = await speech.search(db, q, Viewer(principal.role), principal.agent_name,
                               language=language, speaker=speaker, since=since, until=until,
                               limit=limit, offset=offset)
    return [SearchHit(**hit.__dict__) for hit in hits]


class WordOut(BaseModel):
    text: str
    start: float
    end: float


class TranscriptOut(BaseModel):
    recording_id: int
    speaker: str
    language: str
    words: list[WordOut]


@router.get("/transcripts", response_model=list[TranscriptOut], responses=errors(404))
async def call_transcripts(linkedid: Linkedid, principal: Agent,
                           db: DbDep) -> list[TranscriptOut]:
    """What each speaker said in a call's recordings, word by word with times."""
    try:
        found = await speech.transcripts_of(db, linkedid, Viewer(principal.role),
                                            principal.agent_name)
    except speech.NotFound:
        raise HTTPException(404, "no transcript of that call") from None
    return [TranscriptOut(recording_id=t.recording_id, speaker=t.speaker, language=t.language,
                          words=[WordOut(text=w.text, start=w.start, end=w.end) for w in words])
            for t, words in found]


class SpeechStatus(BaseModel):
    enabled: bool
    engine: str
    language: str | None = None
    error: str | None = None
    transcribed: int = 0
    failed: int = 0


@router.get("/transcripts/status", response_model=SpeechStatus)
async def speech_status(principal: Supervisor, service: ServiceDep) -> SpeechStatus:
    """Whether transcription runs, with which engine, and why not when it does not."""
    return SpeechStatus(**service.speech.health())  # type: ignore[arg-type]


# -- QA ---------------------------------------------------------------------------------------

class RuleIn(BaseModel):
    queue: queue_name(QARule.queue) | None = Field(None, description="None: every queue")
    kind: Literal["forbidden", "required"]
    phrase: text(QARule.phrase, min_length=1)
    language: Language = "ru"
    speaker: Literal["agent", "customer", "any"] = "agent"
    within_seconds: float | None = Field(None, gt=0, le=86400,
                                         description="required phrases: said this early")

    @model_validator(mode="after")
    def _words(self) -> RuleIn:
        if not tokens(self.phrase):
            raise ValueError("phrase: no words in it")
        if self.kind == "forbidden" and self.within_seconds is not None:
            raise ValueError("within_seconds: only for required phrases")
        return self


class RuleOut(BaseModel):
    id: int
    queue: str | None
    kind: str
    phrase: str
    language: str
    speaker: str
    within_seconds: float | None
    active: bool


def _rule(rule: QARule) -> RuleOut:
    return RuleOut(id=rule.id, queue=rule.queue, kind=rule.kind, phrase=rule.phrase,
                   language=rule.language, speaker=rule.speaker,
                   within_seconds=rule.within_seconds, active=rule.active)


@router.get("/qa/rules", response_model=list[RuleOut])
async def list_rules(principal: Supervisor, db: DbDep,
                     queue: queue_name(QARule.queue) | None = None) -> list[RuleOut]:
    query = select(QARule).where(QARule.active).order_by(QARule.id)
    if queue:
        query = query.where((QARule.queue == queue) | QARule.queue.is_(None))
    return [_rule(r) for r in await db.scalars(query)]


@router.post("/qa/rules", response_model=RuleOut, status_code=201)
async def add_rule(body: RuleIn, principal: Supervisor, db: DbDep,
                   service: ServiceDep) -> RuleOut:
    """A phrase evaluated on every transcript from now on (`callcenter transcripts
    backfill --retry-failed` does not re-evaluate old ones)."""
    rule = QARule(**body.model_dump(), active=True, created_at=datetime.now(UTC))
    db.add(rule)
    await db.flush()
    audit(db, username=principal.username, action="qa.rule_add", object_type="qa_rule",
          object_id=rule.id, details=f"{rule.kind} queue={rule.queue}")
    await db.commit()
    return _rule(rule)


@router.delete("/qa/rules/{rule_id}", status_code=204, responses=errors(404))
async def delete_rule(rule_id: ObjectId, principal: Supervisor, db: DbDep) -> None:
    """The rule stops being evaluated; flags it raised stay (with its phrase)."""
    rule = await db.get(QARule, rule_id)
    if rule is None or not rule.active:
        raise HTTPException(404, "no such rule")
    rule.active = False
    audit(db, username=principal.username, action="qa.rule_delete", object_type="qa_rule",
          object_id=rule.id)
    await db.commit()


class ReviewOut(BaseModel):
    reviewed: bool
    score: int | None
    exemplary: bool
    note: str | None
    reviewed_by: str
    reviewed_at: datetime


class FlagOut(BaseModel):
    id: int
    linkedid: str
    recording_id: int
    kind: str
    phrase: str
    speaker: str
    agent: str | None
    queue: str | None
    at_seconds: float | None = Field(description="when it was said (None: a required phrase "
                                     "that was not)")
    said: str | None
    created_at: datetime
    review: ReviewOut | None


def _review(review: QAReview | None) -> ReviewOut | None:
    if review is None:
        return None
    return ReviewOut(reviewed=review.reviewed, score=review.score, exemplary=review.exemplary,
                     note=review.note, reviewed_by=review.reviewed_by,
                     reviewed_at=review.reviewed_at)


@router.get("/qa/flags", response_model=list[FlagOut])
async def list_flags(principal: Supervisor, db: DbDep,
                     queue: queue_name(QAFlag.queue) | None = None,
                     agent: text(QAFlag.agent) | None = None,
                     phrase: text(QAFlag.phrase) | None = None, reviewed: bool | None = None,
                     linkedid: Linkedid | None = None, since: Timestamp | None = None,
                     limit: Limit = 100, offset: Offset = 0) -> list[FlagOut]:
    """Flagged calls, newest first, each flag with the moment and the call's review;
    `phrase`: a rule's phrase exactly as written (the report's by_phrase names them)."""
    found = await speech.flagged_calls(db, queue=queue, agent=agent, reviewed=reviewed,
                                       since=since, linkedid=linkedid, phrase=phrase,
                                       limit=limit,
                                       offset=offset)
    return [FlagOut(id=f.id, linkedid=f.linkedid, recording_id=f.recording_id, kind=f.kind,
                    phrase=f.phrase, speaker=f.speaker, agent=f.agent, queue=f.queue,
                    at_seconds=f.at_seconds, said=f.said, created_at=f.created_at,
                    review=_review(r)) for f, r in found]


class ReviewIn(BaseModel):
    reviewed: bool = True
    score: int | None = Field(None, ge=0, le=100)
    exemplary: bool = False
    note: multiline(QAReview.note) | None = None


@router.put("/qa/reviews/{linkedid}", response_model=ReviewOut, responses=errors(404))
async def put_review(linkedid: Linkedid, body: ReviewIn, principal: Supervisor,
                     db: DbDep) -> ReviewOut:
    """A supervisor listened: reviewed, a score (0–100), kept as an example for training."""
    try:
        review = await speech.review(db, linkedid, by=principal.username, **body.model_dump(),
                                     commit=False)
    except speech.NotFound:
        raise HTTPException(404, "no recorded call with that linkedid") from None
    audit(db, username=principal.username, action="qa.review", object_type="call",
          object_id=linkedid, details=f"score={review.score} exemplary={review.exemplary}")
    await db.commit()
    return _review(review)  # type: ignore[return-value]


class AgentFlags(BaseModel):
    agent: str | None
    flags: int
    calls: int
    forbidden: int
    required_missing: int


class PhraseFlags(BaseModel):
    phrase: str
    kind: str
    flags: int
    agents: int


class QAReport(BaseModel):
    by_agent: list[AgentFlags]
    by_phrase: list[PhraseFlags]


@router.get("/qa/report", response_model=QAReport)
async def qa_report(principal: Supervisor, db: DbDep, since: Timestamp | None = None,
                    until: Timestamp | None = None) -> QAReport:
    """Flags per agent and per phrase over a period (by when they were raised)."""
    return QAReport(**await speech.report(db, since=since, until=until))  # type: ignore[arg-type]
