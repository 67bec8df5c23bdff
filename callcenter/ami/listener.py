"""The service's eyes on Asterisk: AMI events -> call tracker -> record writer."""

from __future__ import annotations

import logging

from callcenter.ami.client import AMIClient, AMIError
from callcenter.ami.protocol import Message
from callcenter.calls.store import RecordWriter
from callcenter.calls.tracker import CallTracker
from callcenter.settings import Settings

log = logging.getLogger(__name__)


class AMIListener:
    def __init__(self, settings: Settings, tracker: CallTracker, writer: RecordWriter) -> None:
        self.tracker = tracker
        self.writer = writer
        self.events_seen = 0
        self.client = AMIClient(
            settings.ami_host, settings.ami_port, settings.ami_user,
            settings.ami_secret.get_secret_value(),
            on_event=self.on_event, on_connect=self.resynchronise,
            ping_interval=settings.ami_ping_interval, action_timeout=settings.ami_action_timeout,
        )

    @property
    def connected(self) -> bool:
        return self.client.connected.is_set()

    def on_event(self, event: Message) -> None:
        self.events_seen += 1
        self.writer.submit(self.tracker.handle(event))

    async def resynchronise(self) -> None:
        """Calls that ended while we were not listening are closed, their end inferred."""
        try:
            channels = await self.client.action_list({"Action": "CoreShowChannels"})
        except AMIError as exc:
            log.warning("could not list channels after connecting", extra={"error": str(exc)})
            return
        live = {ch["Uniqueid"] for ch in channels if "Uniqueid" in ch}
        closed = self.tracker.reconcile(live)
        if closed:
            log.info("closed calls that ended while disconnected", extra={"calls": len(closed)})
        self.writer.submit(closed)
