"""The service's eyes on Asterisk: AMI events -> call tracker -> record writer."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.ami.client import AMIClient, AMIError
from callcenter.ami.protocol import Message
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallTracker
from callcenter.queues.live import LIVE_EVENTS, LiveState
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class AMIListener:
    def __init__(self, settings: Settings, tracker: CallTracker, writer: RecordWriter,
                 live: LiveState, sessions: async_sessionmaker[AsyncSession],
                 observe_lag: Callable[[float], None] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.tracker = tracker
        self.live = live
        self.writer = writer
        self.events_seen = 0
        # how late each event is handled: our clock minus Asterisk's Timestamp (same host)
        self.observe_lag = observe_lag
        self._last_stamp: str | None = None  # Asterisk's clock, from the last event
        # Asterisk's clock at the last event before the connection was lost, taken at the
        # disconnect: events of the next session must not move it before resynchronise
        self._lost_at: float | None = None
        self._subscribers: list[tuple[Callable[[Message], None], frozenset[str] | None]] = []
        self.client = AMIClient(
            settings.ami_host, settings.ami_port, settings.ami_user,
            settings.ami_secret.get_secret_value(),
            on_event=self.on_event, on_connect=self.resynchronise,
            on_disconnect=self._on_disconnect,
            ping_interval=settings.ami_ping_interval, action_timeout=settings.ami_action_timeout,
        )

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def subscribe(self, callback: Callable[[Message], None],
                  events: frozenset[str] | None = None) -> Callable[[], None]:
        """Another consumer of live events (screen pops, tests), of all or only the named
        ones; returns an unsubscribe."""
        entry = (callback, events)
        self._subscribers.append(entry)
        return lambda: self._subscribers.remove(entry)

    @property
    def last_event_at(self) -> float | None:
        return float(self._last_stamp) if self._last_stamp else None

    def _on_disconnect(self) -> None:
        if self._lost_at is None:  # not yet used since an earlier cut: that one counts
            self._lost_at = self.last_event_at

    def on_event(self, event: Message) -> None:
        """The hot path: kept to dictionary look-ups for the many events nobody needs."""
        self.events_seen += 1
        stamp = event.get("Timestamp")
        if stamp:
            self._last_stamp = stamp
            if self.observe_lag is not None:
                with contextlib.suppress(ValueError):  # not a number: no lag to tell
                    self.observe_lag(time.time() - float(stamp))
        records = self.tracker.handle(event)
        if records:
            self.writer.submit(records)
        name = event.get("Event", "")
        if name in LIVE_EVENTS:
            self.live.handle(event)
        for callback, events in self._subscribers:
            if events is not None and name not in events:
                continue
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed", extra={"event": event.get("Event")})

    async def resynchronise(self) -> None:
        """Calls that ended while we were not listening are closed, their end inferred, as of
        the last event before the cut (None on the first connection: nothing was lost). The
        ledger, where there is one, corrects them, and has the calls AMI never saw."""
        lost_at = self._lost_at
        try:
            channels = await self.client.action_list({"Action": "CoreShowChannels"})
            queues = await self.client.action_list({"Action": "QueueStatus"})
        except AMIError as exc:
            log.warning("could not list channels after connecting", extra={"error": str(exc)})
            return
        self.live.load_status(queues)
        waiting = [e for e in queues if e.get("Event") == "QueueEntry"]
        closed = self.tracker.reconcile(channels, waiting, lost_at=lost_at)
        self._lost_at = None
        if closed:
            log.info("closed calls that ended while disconnected", extra={"calls": len(closed)})
        self.writer.submit(closed)
