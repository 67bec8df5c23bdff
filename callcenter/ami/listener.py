"""The service's eyes on Asterisk: AMI events -> call tracker -> record writer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from callcenter.ami.client import AMIClient, AMIError
from callcenter.ami.protocol import Message
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallTracker
from callcenter.queues.live import LiveState
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class AMIListener:
    def __init__(self, settings: Settings, tracker: CallTracker, writer: RecordWriter,
                 live: LiveState) -> None:
        self.tracker = tracker
        self.live = live
        self.writer = writer
        self.events_seen = 0
        self.last_event_at: float | None = None  # Asterisk's clock, from the last event
        self._subscribers: list[Callable[[Message], None]] = []
        self.client = AMIClient(
            settings.ami_host, settings.ami_port, settings.ami_user,
            settings.ami_secret.get_secret_value(),
            on_event=self.on_event, on_connect=self.resynchronise,
            ping_interval=settings.ami_ping_interval, action_timeout=settings.ami_action_timeout,
        )

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def subscribe(self, callback: Callable[[Message], None]) -> Callable[[], None]:
        """Another consumer of live events (screen pops, tests); returns an unsubscribe."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def on_event(self, event: Message) -> None:
        self.events_seen += 1
        stamp = event.get("Timestamp")
        if stamp:
            self.last_event_at = float(stamp)
        self.writer.submit(self.tracker.handle(event))
        self.live.handle(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed", extra={"event": event.get("Event")})

    async def resynchronise(self) -> None:
        """Calls that ended while we were not listening are closed, their end inferred."""
        try:
            channels = await self.client.action_list({"Action": "CoreShowChannels"})
            queues = await self.client.action_list({"Action": "QueueStatus"})
        except AMIError as exc:
            log.warning("could not list channels after connecting", extra={"error": str(exc)})
            return
        self.live.load_status(queues)
        waiting = [e for e in queues if e.get("Event") == "QueueEntry"]
        closed = self.tracker.reconcile(channels, waiting, lost_at=self.last_event_at)
        if closed:
            log.info("closed calls that ended while disconnected", extra={"calls": len(closed)})
        self.writer.submit(closed)
