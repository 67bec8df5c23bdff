"""Today's figures kept current for the live screens: read from our own records in the web's
database pool, off the AMI path. Refreshed soon after a call ends (the writer stores its
record within a moment), every few seconds while someone watches, and at once when an admin
changes a queue's targets; each refresh hands the feed a new picture."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.agents.pause_reasons import pause_reasons
from callcenter.ami.protocol import Message
from callcenter.queues.targets import Targets, all_targets, targets_json
from callcenter.queues.today import (
    abandoned_today,
    agent_figures,
    as_json,
    queue_figures,
    since_midnight,
)
from callcenter.users.models import User

log = logging.getLogger(__name__)
# events after which a record changes (a call left a queue or ended, a ring was missed)
EVENTS = frozenset({"QueueCallerLeave", "QueueCallerAbandon", "AgentComplete",
                    "AgentRingNoAnswer", "Hangup"})


class TodayBoard:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], zone: str,
                 on_change: Callable[[], None], watched: Callable[[], bool],
                 every: float = 5.0, settle: float = 1.0) -> None:
        self._sessions = sessions
        self._zone = zone
        self._on_change = on_change
        self._watched = watched
        self._every = every
        self._settle = settle
        self._poked = asyncio.Event()
        self.targets: dict[str, Targets] = {}
        self.queues: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.abandoned: list[dict[str, Any]] = []
        self.usernames: dict[str, str] = {}  # agents' interfaces -> usernames
        self.at: float | None = None  # when the figures were read (server epoch)
        self.pause_reasons: list[str] = []  # what a supervisor may pause an agent with
        self.pause_reasons_seed: list[str] = []  # the setting, until admins configure them

    def on_event(self, event: Message) -> None:
        """Subscribed to EVENTS: a record will change, read the figures again shortly."""
        self._poked.set()

    def poke(self) -> None:
        self._poked.set()

    async def refresh(self) -> None:
        since = since_midnight(self._zone)
        async with self._sessions() as session:
            targets = await all_targets(session)
            queues = await queue_figures(session, since, targets)
            agents = await agent_figures(session, since)
            abandoned = await abandoned_today(session, since)
            reasons = await pause_reasons(session, self.pause_reasons_seed)
            users = (await session.execute(select(User.interface, User.username).where(
                User.interface.is_not(None), User.active))).all()
        self.targets = targets
        self.queues = as_json(queues)
        self.agents = as_json(agents)
        self.abandoned = [{**asdict(a), "at": a.at.astimezone(UTC).isoformat()}
                          for a in abandoned]
        self.usernames = {interface: username for interface, username in users}
        self.pause_reasons = reasons
        self.at = time.time()
        self._on_change()

    async def run(self) -> None:
        """Supervised: reads while watched; a failed read is logged and tried again."""
        while True:
            if self._watched() or self.at is None:
                try:
                    await self.refresh()
                except Exception:  # the database may be down: the screens show the age
                    log.exception("today's figures not read")
            try:
                await asyncio.wait_for(self._poked.wait(), self._every)
                await asyncio.sleep(self._settle)  # the writer stores the record meanwhile
            except TimeoutError:
                pass
            self._poked.clear()

    def targets_for(self, queues: list[str]) -> dict[str, dict[str, Any]]:
        return targets_json(self.targets, queues)

    def figures_at(self) -> str | None:
        return datetime.fromtimestamp(self.at, UTC).isoformat() if self.at else None
