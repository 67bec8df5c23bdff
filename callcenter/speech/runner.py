"""Where transcription runs: a bounded pool of worker processes (spawned, niced, memory
capped), never the event loop that answers Asterisk. New recordings are picked up as soon as
they are linked to their call (`wake`, and a poll every `speech_poll_seconds`); older ones by
`callcenter transcripts backfill`.

The engine is loaded and tried once, in a worker, when the service starts: a missing or
broken model is one clear error in the log and /health, and the feature stays off; calls
and everything else go on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.settings import Settings
from callcenter.speech.engines import EngineError, EngineSpec, probe, transcribe
from callcenter.speech.service import pending, rule_phrases, save_failure, save_transcription
from callcenter.workers import Busy, Workers

log = logging.getLogger(__name__)
PROBE_SECONDS = 300.0  # a big model takes a while to load; a stalled one is given up on


def engine_spec(settings: Settings) -> EngineSpec | None:
    """The engine the settings choose; None when speech analytics is off."""
    if settings.speech_engine == "off":
        return None
    return EngineSpec(kind=settings.speech_engine, model_dir=settings.speech_model_dir,
                      language=settings.speech_language,
                      keywords=tuple(settings.speech_keywords),
                      kws_threshold=settings.speech_kws_threshold)


class Speech:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.spec = engine_spec(settings)
        self.enabled = False
        self.error: str | None = None
        self.language: str | None = None
        self.workers = Workers(settings.speech_processes,
                               memory_limit=settings.speech_memory_mb * 2**20)
        self.transcribed = 0
        self.failed = 0
        self.audio_seconds = 0.0
        self.last_id = 0  # the last recording a batch took (backfill's cursor)
        self._wake = asyncio.Event()
        self._started = datetime.now(UTC)

    @property
    def configured(self) -> bool:
        return self.spec is not None

    async def start(self) -> bool:
        """Loads the engine in a worker and tries it: True when the feature is on."""
        if self.spec is None:
            return False
        try:
            async with asyncio.timeout(PROBE_SECONDS):
                self.language = await self.workers.run(probe, self.spec)
        except (EngineError, Busy, TimeoutError, OSError, MemoryError) as exc:
            self.error = str(exc) or type(exc).__name__
            log.error("speech analytics is off: %s", self.error,
                      extra={"engine": self.spec.kind, "error": self.error})
            self.workers.shutdown()
            return False
        self.enabled = True
        log.info("speech analytics on", extra={"engine": self.spec.name,
                                               "language": self.language,
                                               "processes": self.settings.speech_processes})
        return True

    def wake(self) -> None:
        """New recordings were linked: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """The service's background task: the engine tried, then new recordings as they come.
        Off (engine missing or broken), it idles: the error is in /health."""
        if not self.enabled and not await self.start():
            await asyncio.Event().wait()  # off until restarted; nothing to do
        since = self._started - timedelta(hours=self.settings.speech_recent_hours)
        while True:
            if not await self.transcribe_pending(since=since):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.speech_poll_seconds):
                        await self._wake.wait()
                self._wake.clear()

    async def transcribe_pending(self, *, since: datetime | None = None,
                                 retry_failed: bool = False, after_id: int = 0) -> int:
        """One batch (as many recordings as there are workers, twice): how many were done."""
        assert self.spec is not None and self.language is not None
        async with self.sessions() as session:
            rows = (await session.execute(pending(
                since=since, retry_failed=retry_failed, after_id=after_id,
                limit=2 * self.settings.speech_processes))).all()
            phrases = await rule_phrases(session, self.language)
        await asyncio.gather(*(self._one(rid, linkedid, path, phrases)
                               for rid, linkedid, path in rows))
        self.last_id = max((row[0] for row in rows), default=after_id)
        return len(rows)

    async def backfill(self, *, retry_failed: bool = False) -> int:
        """Every recording not transcribed yet (and failed ones, if asked), oldest first."""
        after, done = 0, 0
        while count := await self.transcribe_pending(retry_failed=retry_failed, after_id=after):
            done += count
            after = self.last_id
        return done

    async def _one(self, recording_id: int, linkedid: str, path: str,
                   phrases: list[str]) -> None:
        assert self.spec is not None
        try:
            tracks = await self.workers.run(transcribe, self.spec, path, phrases)
        except Exception as exc:  # whatever the engine made of this file: it failed, not us
            self.failed += 1
            log.warning("recording not transcribed", extra={"linkedid": linkedid,
                                                             "error": str(exc)[:200]})
            async with self.sessions() as session:
                await save_failure(session, recording_id, linkedid, self.spec.name, str(exc))
            return
        async with self.sessions() as session:
            flags = await save_transcription(session, recording_id, linkedid, tracks,
                                             self.spec.name)
        self.transcribed += 1
        self.audio_seconds += max((t.seconds for t in tracks), default=0.0)
        log.info("recording transcribed", extra={"linkedid": linkedid, "flags": len(flags)})

    def health(self) -> dict[str, object]:
        if self.spec is None:
            return {"enabled": False, "engine": "off"}
        return {"enabled": self.enabled, "engine": self.spec.name, "language": self.language,
                "error": self.error, "transcribed": self.transcribed, "failed": self.failed}

    def shutdown(self) -> None:
        self.workers.shutdown()
