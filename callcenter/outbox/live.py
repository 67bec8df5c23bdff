"""call.ringing and call.answered, from the live AMI events (AgentCalled, AgentConnect).

Nothing in the database changes when an agent's phone rings, so these events have no change
to share a transaction with: they are handed to the record writer like any record (never
waiting on the event-reading path) and written in its next batch, in order with the
call's record, so a call's ringing precedes its end in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from callcenter.phone import to_e164

EVENTS = frozenset({"AgentCalled", "AgentConnect"})


@dataclass(frozen=True, slots=True)
class LiveCallEvent:
    # call.ringing | call.answered (not `type`: the spool's codec names record types so)
    event_type: str
    linkedid: str
    queue: str | None
    agent: str | None
    agent_interface: str | None
    caller: str | None
    caller_raw: str | None
    caller_name: str | None
    at: datetime
    wait_seconds: float | None = None

    def payload(self) -> dict[str, object]:
        data: dict[str, object] = {
            "linkedid": self.linkedid, "queue": self.queue, "agent": self.agent,
            "agent_interface": self.agent_interface, "caller": self.caller,
            "caller_raw": self.caller_raw, "caller_name": self.caller_name, "at": self.at}
        if self.event_type == "call.answered":
            data["wait_seconds"] = self.wait_seconds
        return data


class LiveCallEvents:
    """An AMI subscriber: AgentCalled -> call.ringing, AgentConnect -> call.answered."""

    def __init__(self, submit: Callable[[list[LiveCallEvent]], None], region: str) -> None:
        self._submit = submit
        self._region = region

    def on_event(self, event: dict[str, str]) -> None:
        name = event.get("Event")
        if name not in EVENTS or not event.get("Linkedid"):
            return
        raw = event.get("CallerIDNum") or None
        if raw in ("<unknown>", ""):
            raw = None
        try:
            at = datetime.fromtimestamp(float(event.get("Timestamp", "")), UTC)
        except ValueError:
            at = datetime.now(UTC)
        wait = None
        if name == "AgentConnect":
            try:
                wait = float(event.get("HoldTime", ""))
            except ValueError:
                wait = None
        name_shown = event.get("CallerIDName") or None
        self._submit([LiveCallEvent(
            "call.ringing" if name == "AgentCalled" else "call.answered",
            event["Linkedid"], event.get("Queue") or None, event.get("MemberName") or None,
            event.get("Interface") or None, to_e164(raw, self._region) if raw else None, raw,
            None if name_shown in (None, "<unknown>") else name_shown, at, wait)])
