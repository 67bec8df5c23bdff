"""One process, three faces: FastAGI server, AMI listener and (around them) the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from callcenter.agi.routes import Routes
from callcenter.agi.server import FastAGIServer
from callcenter.ami.listener import AMIListener
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallTracker
from callcenter.db import create_engine, ping, session_factory
from callcenter.ivr.config import load_ivr
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings) -> None:
        settings.recordings_dir = settings.recordings_dir.resolve()
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.tracker = CallTracker(settings.inbound_contexts, settings.default_region)
        self.writer = RecordWriter(self.engine, self.sessions,
                                   dead_letter=settings.spool_dir / "unwritten-records.jsonl")
        self.ami = AMIListener(settings, self.tracker, self.writer)
        ivr = load_ivr(settings.ivr_file)  # a bad menu file stops start-up with its reason
        self.agi = FastAGIServer(settings.agi_host, settings.agi_port,
                                 Routes(settings, self.sessions, ivr).table())
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.settings.recordings_dir.mkdir(parents=True, exist_ok=True)
        await self.agi.start()
        self._tasks = [asyncio.create_task(self.writer.run(), name="record-writer"),
                       asyncio.create_task(self.ami.client.run(), name="ami")]
        log.info("callcenter started")

    async def stop(self) -> None:
        await self.ami.client.stop()
        await self.agi.stop()
        with contextlib.suppress(TimeoutError):
            await self.writer.drain(timeout=5)
        if self.writer.pending:
            log.error("stopping with records not yet written",
                      extra={"pending": self.writer.pending})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.engine.dispose()
        log.info("callcenter stopped")

    async def health(self) -> dict[str, bool]:
        return {"ami": self.ami.connected, "agi": self.agi.serving,
                "database": await ping(self.engine)}
