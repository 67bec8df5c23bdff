"""The contact card as a viewer may see it: every value through the data policy's `show`.

Supervisors and admins see everything. Agents see what the declared kinds allow
(callcenter/policy.py): the name, numbers masked but for the caller's own, notes and custom
fields only when an admin declared them visible and of a kind agents may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callcenter import policy
from callcenter.contacts.models import Contact
from callcenter.policy import FieldRule, Viewer


def card(contact: Contact, viewer: Viewer, rules: Mapping[str, FieldRule]) -> dict[str, Any]:
    """`rules`: the admins' declarations by field name (custom fields, and the notes)."""
    fields = {}
    for key, value in (contact.fields or {}).items():
        shown = policy.show(value, rules.get(key, policy.UNDECLARED), viewer)
        if shown is not None:
            fields[key] = shown
    out: dict[str, Any] = {
        "id": contact.id,
        "name": policy.show(contact.name, policy.NAME, viewer),
        "vip": contact.vip,
        "language": contact.language,
        "numbers": [{"number": policy.show(n.number, policy.PHONE, viewer), "label": n.label}
                    for n in contact.numbers],
        "fields": fields,
    }
    notes = policy.show(contact.notes, rules.get(policy.NOTES, policy.BUILT_IN[policy.NOTES]),
                        viewer)
    if notes is not None or viewer.sees_everything:
        out["notes"] = notes
    email = policy.show(contact.email, policy.EMAIL, viewer)
    if viewer.sees_everything:
        out["email"] = email
        out["recording_opt_out"] = contact.recording_opt_out
    return out


def number_for(viewer: Viewer, number: str | None) -> str | None:
    """A number in a list (calls, callbacks) as the viewer may see it."""
    return policy.show(number, policy.PHONE, viewer)


def refused_values(*, name: str | None, notes: str | None, fields: Mapping[str, str],
                   rules: Mapping[str, FieldRule]) -> dict[tuple[str, ...], str]:
    """What the data policy refuses in a contact being written, by field location
    (("name",), ("notes",), ("fields", "passport_no")): phone or identity numbers and e-mails
    in free text or agent-visible text, custom fields named like built-in ones."""
    refused: dict[tuple[str, ...], str] = {}
    if name is not None and (reason := policy.check_value("name", name, policy.NAME)):
        refused[("name",)] = reason
    notes_rule = rules.get(policy.NOTES, policy.BUILT_IN[policy.NOTES])
    if notes is not None and (reason := policy.check_value("notes", notes, notes_rule)):
        refused[("notes",)] = reason
    for key, value in fields.items():
        if key in policy.BUILT_IN:
            refused[("fields", key)] = f"{key}: a built-in field, not a custom one"
        elif reason := policy.check_value(key, value, rules.get(key, policy.UNDECLARED)):
            refused[("fields", key)] = reason
    return refused
