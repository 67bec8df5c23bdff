"""The event catalogue: each type's version, how its payload is built, and what of it each
role may see (through callcenter.policy, the one choke point).

Payloads are stored whole in the outbox; a receiver gets them filtered for the role of its
subscription (webhooks) or of its token (`GET /events`). A new field may be added to a
version; removing or changing one makes a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter.policy import (
    BUILT_IN,
    NAME,
    NOTES,
    PHONE,
    UNDECLARED,
    FieldRule,
    Viewer,
    redact_log,
    redact_text,
    show,
)

VERSIONS: Mapping[str, int] = {
    "call.ringing": 1,
    "call.answered": 1,
    "call.ended": 1,
    "call.updated": 1,
    "recording.ready": 1,
    "callback.created": 1,
    "contact.changed": 1,
    "agent.state_changed": 1,
    "disposition.saved": 1,
}
EVENT_TYPES = tuple(VERSIONS)

# personal fields of the call events, by the kind policy.py decides on
_CALL_FIELDS: Mapping[str, FieldRule] = {"caller": PHONE, "called": PHONE, "caller_raw": PHONE,
                                         "called_raw": PHONE, "caller_name": NAME,
                                         "transfer_target": PHONE}
_CALLBACK_FIELDS: Mapping[str, FieldRule] = {"number": PHONE}

CALL_COLUMNS = ("linkedid", "direction", "caller", "caller_raw", "caller_name", "called",
                "called_raw", "started_at", "queue", "queue_entered_at", "answered_at",
                "ended_at", "agent", "agent_interface", "wait_seconds", "talk_seconds",
                "outcome", "abandon_position", "hangup_by", "transfer_target", "end_inferred",
                "contact_id", "vip", "ivr_path", "recording_opt_out", "source")


def call_record(record: Any, evidence: int) -> dict[str, Any]:
    """call.ended / call.updated: the whole record as stored, with queue stays and legs."""
    data = {name: getattr(record, name) for name in CALL_COLUMNS}
    data["evidence"] = evidence
    data["queue_entries"] = [
        {"queue": e.queue, "entered_at": e.entered_at, "left_at": e.left_at,
         "position": e.position, "agent": e.agent, "wait_seconds": e.wait_seconds,
         "outcome": e.outcome} for e in record.queue_entries]
    data["legs"] = [{"uniqueid": leg.uniqueid, "channel": leg.channel,
                     "created_at": leg.created_at, "answered_at": leg.answered_at,
                     "ended_at": leg.ended_at, "hangup_cause": leg.hangup_cause}
                    for leg in record.legs]
    return data


def view(event_type: str, data: Mapping[str, Any], role: str,
         rules: Mapping[str, FieldRule] | None = None) -> dict[str, Any]:
    """The payload as `role` may see it; `rules`: the card fields' declarations (for
    contact.changed). Supervisors and admins see everything."""
    viewer = Viewer(role)
    if viewer.sees_everything:
        return dict(data)
    if event_type.startswith("call."):
        out = _masked(data, _CALL_FIELDS, viewer)
        if "legs" in out:  # channel names carry the peer's number
            out["legs"] = [{**leg, "channel": redact_log(leg["channel"])}
                           for leg in out["legs"]]
        return out
    if event_type == "callback.created":
        return _masked(data, _CALLBACK_FIELDS, viewer)
    if event_type == "contact.changed":
        return _contact(data, viewer, rules or {})
    if event_type == "disposition.saved":  # the note: free text, masked as the desk does
        out = dict(data)
        if isinstance(out.get("note"), str):
            out["note"] = redact_text(out["note"])
        return out
    return dict(data)  # recording.ready, agent.state_changed: nothing personal


def _masked(data: Mapping[str, Any], personal: Mapping[str, FieldRule],
            viewer: Viewer) -> dict[str, Any]:
    return {name: show(value, personal[name], viewer)
            if name in personal and isinstance(value, str) else value
            for name, value in data.items()}


def _contact(data: Mapping[str, Any], viewer: Viewer,
             rules: Mapping[str, FieldRule]) -> dict[str, Any]:
    out = dict(data)
    for name in ("name", "email"):
        if out.get(name) is not None:
            out[name] = show(out[name], BUILT_IN[name], viewer)
    if out.get("notes") is not None:
        out["notes"] = show(out["notes"], rules.get(NOTES, BUILT_IN[NOTES]), viewer)
    if out.get("numbers"):
        out["numbers"] = [{**n, "number": show(n.get("number"), PHONE, viewer)}
                          for n in out["numbers"]]
    if isinstance(out.get("fields"), dict):
        out["fields"] = {name: show(value, rules.get(name, UNDECLARED), viewer)
                         if isinstance(value, str) else None
                         for name, value in out["fields"].items()}
    return out


# One example per type: README and the OpenAPI components show these.
EXAMPLES: Mapping[str, dict[str, Any]] = {
    "call.ringing": {"linkedid": "1764870000.42", "queue": "support", "agent": "Anna",
                     "agent_interface": "PJSIP/2001", "caller": "+79161234567",
                     "caller_raw": "89161234567", "caller_name": "Ivan Petrov",
                     "at": "2026-12-04T18:00:03+00:00"},
    "call.answered": {"linkedid": "1764870000.42", "queue": "support", "agent": "Anna",
                      "agent_interface": "PJSIP/2001", "caller": "+79161234567",
                      "caller_raw": "89161234567", "caller_name": "Ivan Petrov",
                      "at": "2026-12-04T18:00:05+00:00", "wait_seconds": 5.0},
    "call.ended": {
        "linkedid": "1764870000.42", "direction": "inbound", "caller": "+79161234567",
        "caller_raw": "89161234567", "caller_name": "Ivan Petrov", "called": "+74950000000",
        "called_raw": "4950000000", "started_at": "2026-12-04T18:00:00+00:00",
        "queue": "support", "queue_entered_at": "2026-12-04T18:00:00+00:00",
        "answered_at": "2026-12-04T18:00:05+00:00", "ended_at": "2026-12-04T18:03:05+00:00",
        "agent": "Anna", "agent_interface": "PJSIP/2001", "wait_seconds": 5.0,
        "talk_seconds": 180.0, "outcome": "answered", "abandon_position": None,
        "hangup_by": "customer", "transfer_target": None, "end_inferred": False,
        "contact_id": 17, "vip": False, "ivr_path": "main>1", "recording_opt_out": False,
        "source": "ami", "evidence": 2,
        "queue_entries": [{"queue": "support", "entered_at": "2026-12-04T18:00:00+00:00",
                           "left_at": "2026-12-04T18:00:05+00:00", "position": 1,
                           "agent": "Anna", "wait_seconds": 5.0, "outcome": "answered"}],
        "legs": [{"uniqueid": "1764870000.42", "channel": "PJSIP/trunk-00000001",
                  "created_at": "2026-12-04T18:00:00+00:00",
                  "answered_at": "2026-12-04T18:00:00+00:00",
                  "ended_at": "2026-12-04T18:03:05+00:00", "hangup_cause": 16}]},
    "recording.ready": {"recording_id": 301, "linkedid": "1764870000.42", "format": "wav",
                        "size_bytes": 2881644, "duration_seconds": 180.1,
                        "created_at": "2026-12-04T18:00:05+00:00"},
    "callback.created": {"callback_id": 55, "number": "+79161234567", "queue": "support",
                         "source": "abandoned", "linkedid": "1764870100.50",
                         "requested_at": "2026-12-04T18:05:40+00:00", "wait_seconds": 41.0},
    "contact.changed": {"contact_id": 17, "change": "updated", "name": "Ivan Petrov",
                        "numbers": [{"number": "+79161234567", "label": "mobile"}],
                        "email": "ivan@example.com", "notes": "prefers mornings", "vip": True,
                        "language": "ru", "fields": {"company": "Roga i Kopyta"}},
    "agent.state_changed": {"agent": "Anna", "interface": "PJSIP/2001", "queue": "support",
                            "state": "pause", "reason": "lunch",
                            "at": "2026-12-04T13:00:00+00:00"},
    "disposition.saved": {"linkedid": "1764870000.42", "agent": "Anna",
                          "disposition_code": "sale", "note": "wants the yearly plan",
                          "callback_id": None, "saved_at": "2026-12-04T18:03:40+00:00",
                          "replaced": False},
}
EXAMPLES = {**EXAMPLES, "call.updated": {**EXAMPLES["call.ended"], "source": "ledger",
                                         "evidence": 3, "previous_outcome": "abandoned",
                                         "outcome": "answered"}}
