"""Phone numbers as people type them and as Asterisk sends them, normalised to E.164."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str | None, default_region: str = "RU") -> str | None:
    """E.164 for anything that is a possible phone number; None for the rest.

    Short internal extensions (e.g. "1001") and anonymous caller IDs are not phone numbers:
    they stay as they are in the call record's raw fields, not here.
    """
    if not raw:
        return None
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return None
    if text.startswith("00"):
        text = "+" + digits[2:]
    elif (default_region == "RU" and len(digits) == 11 and digits[0] == "8"
          and not text.startswith("+")):
        # Russian national trunk prefix 8: 8 916 ... is +7 916 ...
        text = "+7" + digits[1:]
    elif len(digits) > 10 and not text.startswith("+") and digits[0] != "0":
        # Asterisk often sends international numbers without the plus.
        candidate = "+" + digits
        if _valid(candidate, None):
            text = candidate
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _valid(text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


def dialable(raw: str, default_region: str, allowed_regions: list[str],
             denied_prefixes: list[str]) -> str:
    """The E.164 number an agent may dial, or ValueError saying why not."""
    e164 = to_e164(raw, default_region)
    if e164 is None or not _valid(e164, None):
        raise ValueError("not a valid phone number")
    if allowed_regions and region_of(e164) not in allowed_regions:
        raise ValueError("calls to this country are not allowed")
    if any(e164.startswith(prefix) for prefix in denied_prefixes):
        raise ValueError("calls to this number range are not allowed")
    return e164


def region_of(e164: str) -> str | None:
    """ISO country of an E.164 number ("RU", "DE"), for choosing the caller's language."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def mask_number(number: str) -> str:
    """Keeps the last 4 digits: enough to recognise a number in a log, not to dial it."""
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]
