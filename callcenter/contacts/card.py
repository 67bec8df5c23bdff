"""The contact card as a role may see it: the personal-data rules of a contact center.

Agents see the caller's name, notes and the custom fields an admin marked agent-visible;
passport data, addresses and e-mail never; numbers other than the caller's own only masked to
their last 4 digits. Supervisors and admins see everything.
"""

from __future__ import annotations

from typing import Any

from callcenter.contacts.models import Contact
from callcenter.phone import mask_number

# Never shown to agents, whatever an admin marks.
ALWAYS_HIDDEN = frozenset({"passport", "address", "email", "e-mail", "birth_date",
                           "date_of_birth", "inn", "snils"})


def card(contact: Contact, *, role: str, own_number: str | None,
         agent_visible: frozenset[str]) -> dict[str, Any]:
    full = role != "agent"
    numbers = [
        {"number": n.number if full or n.number == own_number else mask_number(n.number),
         "label": n.label}
        for n in contact.numbers
    ]
    fields = {
        key: value for key, value in (contact.fields or {}).items()
        if full or (key.lower() not in ALWAYS_HIDDEN and key in agent_visible)
    }
    out: dict[str, Any] = {
        "id": contact.id,
        "name": contact.name,
        "vip": contact.vip,
        "language": contact.language,
        "notes": contact.notes,
        "numbers": numbers,
        "fields": fields,
    }
    if full:
        out["email"] = contact.email
        out["recording_opt_out"] = contact.recording_opt_out
    return out


def mask_for(role: str, number: str | None, own_number: str | None) -> str | None:
    """A number in a list (calls, callbacks) as the role may see it."""
    if number is None or role != "agent" or number == own_number:
        return number
    return mask_number(number)
