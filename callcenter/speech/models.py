"""Transcripts of recordings (one row per speaker's track) and the QA rules evaluated on them.

Every row hangs on its recording with ON DELETE CASCADE: whatever deletes a recording
(retention, forget-me, unanswered, opted out) deletes what was heard in it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime


class SpeechJob(Base):
    """That a recording was transcribed (or why it could not be): one per recording."""

    __tablename__ = "speech_jobs"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # done | failed
    engine: Mapped[str] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(String(400))
    audio_seconds: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Transcript(Base):
    """What one speaker said in one recording: the text (searched) and its words with times
    in seconds from the recording's start, as [[word, start, end], ...]."""

    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    speaker: Mapped[str] = mapped_column(String(16))  # agent | customer | mixed
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QARule(Base):
    """A phrase an agent must never say (forbidden) or must say (required, e.g. the greeting,
    within the first `within_seconds`), for one queue or every queue (queue None)."""

    __tablename__ = "qa_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue: Mapped[str | None] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # forbidden | required
    phrase: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    speaker: Mapped[str] = mapped_column(String(16), default="agent")  # agent|customer|any
    within_seconds: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QAFlag(Base):
    """A rule broken in a call: the forbidden phrase and the second it was said, or the
    required phrase that was not (at_seconds None)."""

    __tablename__ = "qa_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    linkedid: Mapped[str] = mapped_column(String(64), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("qa_rules.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    phrase: Mapped[str] = mapped_column(String(200))
    speaker: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(80), index=True)
    queue: Mapped[str | None] = mapped_column(String(80))
    at_seconds: Mapped[float | None] = mapped_column(Float)
    said: Mapped[str | None] = mapped_column(String(400))  # the words as heard
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class QAReview(Base):
    """A supervisor's review of a call: listened, scored, kept as an example for training."""

    __tablename__ = "qa_reviews"

    linkedid: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[int | None] = mapped_column(Integer)
    exemplary: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(2000))
    reviewed_by: Mapped[str] = mapped_column(String(80))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
