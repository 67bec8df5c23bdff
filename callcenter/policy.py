"""The personal-data policy: what each role may see of a field, decided by the field's kind.

One choke point: every output (card, screen pop over HTTP and WebSocket, contact reads, call
lists and CSV, logs) passes personal values through `show` (per viewer) or `redact_text` (logs,
free text). Pure: no I/O; the declarations come from the caller.

What an agent sees, by kind:
- name, date, free text: only when an admin marked the field agent-visible (a contact's name
  always is), and even then with anything that looks like a phone or identity number or an
  e-mail masked;
- phone: numbers other than the caller's own only as their last 4 digits;
- e-mail, address, identity document: never;
- a field of no declared kind: never.
Supervisors and admins see everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from callcenter.phone import mask_number


class Kind(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    IDENTITY_DOCUMENT = "identity_document"
    DATE = "date"
    FREE_TEXT = "free_text"


ROLES = ("agent", "supervisor", "admin")
NEVER_TO_AGENTS = frozenset({Kind.EMAIL, Kind.ADDRESS, Kind.IDENTITY_DOCUMENT})
# kinds whose values are written by people and shown as they are: checked on write
_TEXT_KINDS = frozenset({Kind.NAME, Kind.DATE, Kind.FREE_TEXT})


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A field's declared kind (None: undeclared) and whether an admin let agents see it."""

    kind: Kind | None
    agent_visible: bool = False


UNDECLARED = FieldRule(None)
PHONE = FieldRule(Kind.PHONE, agent_visible=True)
NAME = FieldRule(Kind.NAME, agent_visible=True)
EMAIL = FieldRule(Kind.EMAIL)
# The contact's built-in fields. Their kinds are fixed; of their visibility only the notes'
# is the admins' to set (under this name among the declarations), hidden until they do.
NOTES = "notes"
BUILT_IN: Mapping[str, FieldRule] = {"name": NAME, "numbers": PHONE, "email": EMAIL,
                                     NOTES: FieldRule(Kind.FREE_TEXT)}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks: their role and, during a call, the caller's own number (shown in full)."""

    role: str
    own_number: str | None = None

    @property
    def sees_everything(self) -> bool:
        return self.role != "agent"


def show(value: str | None, rule: FieldRule, viewer: Viewer) -> str | None:
    """The value as the viewer may see it; None when they may not see it at all."""
    if value is None or viewer.sees_everything:
        return value
    if rule.kind is None or rule.kind in NEVER_TO_AGENTS or not rule.agent_visible:
        return None
    if rule.kind is Kind.PHONE:
        if viewer.own_number and value == viewer.own_number:
            return value
        return mask_number(_SEPARATORS.sub("", value))  # "+7 916 123-45-67": 4 digits, not 3
    return redact_text(value)


# Dates (and times) are matched first so they stay readable; then tokens, e-mails and runs of
# 6+ digits (phone numbers, passports "4509 123456", SNILS "112-233-445 95", INN) are masked.
# Log lines also keep Asterisk uniqueids/linkedids (epoch.sequence) and call ids readable, and
# mask only the peer of a channel name (PJSIP/*******4567-00000001).
_DATE = r"""(?<!\d)(?:
      (?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])
        (?:[T\s]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)?)?
    | (?:0?[1-9]|[12]\d|3[01])\.(?:0?[1-9]|1[0-2])\.(?:19|20)?\d{2}
    )(?!\d)"""
_LOG_IDS = r"""(?<![\d+])1[5-9]\d{8}\.\d+
    | c2c-[0-9a-f]+
    | [0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"""
_CHANNEL = r"""(?P<tech>\b(?:PJSIP|SIP|IAX2|DAHDI|Local|Dongle|WebRTC|Motif)/)(?P<peer>[^\s,;@/]+?)
    (?P<tail>(?:@[\w.-]+)?-[0-9a-f]{6,8})(?![0-9a-f])"""
_REST = r"""
  | (?P<bearer>(?i:bearer)\s+)\S+
  | (?P<secret>(?i:token|ticket|secret|password|passwd|api_key|key)=)[^&\s"',]+
  | (?P<email>[\w.+%-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+)
  | (?P<digits>\+?\d(?:[\s()\-]{0,2}\d){5,})"""
_IN_TEXT = re.compile(rf"(?P<safe>{_DATE}){_REST}", re.VERBOSE)
_IN_LOGS = re.compile(rf"(?P<safe>{_DATE}|{_LOG_IDS}) | {_CHANNEL} {_REST}", re.VERBOSE)
_SEPARATORS = re.compile(r"[\s()\-.]")


def redact_text(text: str) -> str:
    """Masks what may identify a person or grant access in text shown to agents."""
    return _IN_TEXT.sub(_redact_match, text)


def redact_log(text: str) -> str:
    """The same masking for a log line, keeping Asterisk's ids and channel names readable."""
    return _IN_LOGS.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "safe":
        return match.group()
    if kind == "bearer":
        return match.group("bearer") + "***"
    if kind == "secret":
        return match.group("secret") + "***"
    if kind == "email":
        return "***@***"
    if kind == "tail":  # a channel name: its peer masked like any text, the rest kept
        return match.group("tech") + redact_text(match.group("peer")) + match.group("tail")
    digits = "".join(ch for ch in match.group() if ch.isdigit())
    return mask_number(digits)


# Numbers as a speech engine writes them: digits, or words (Russian and English, any form).
_NUMBER_WORD = re.compile(r"""^(?:
    ноль|нол[ья]|один|одна|одно|одного|одной|два|две|двух|три|трех|трёх|четыре|четырех|пять|шесть
  | семь|восемь|девять|десять|[а-я]*надцать|двадцать|тридцать|сорок|пятьдесят|шестьдесят
  | семьдесят|восемьдесят|девяносто|сто|двести|триста|четыреста|[а-я]*сот|тысяч[аи]?
  | zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|[a-z]+teen
  | twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|double|triple
  | \d+)$""", re.VERBOSE)
SPOKEN_NUMBER_RUN = 3  # "two minutes" stays; "nine one six ..." (a number read out) does not


def redact_spoken(words: list[str]) -> list[str]:
    """A transcript's words as agents may see them: a number read out word by word (three or
    more number words or digit groups in a row: a phone, card or passport number) is masked
    whole, and anything else masked as in text (`redact_text`)."""
    shown = [redact_text(word) for word in words]
    run: list[int] = []
    for i, word in enumerate([*words, ""]):
        if word and _NUMBER_WORD.match(word.lower().strip(".,;:!?-")):
            run.append(i)
            continue
        if len(run) >= SPOKEN_NUMBER_RUN:
            for j in run:
                shown[j] = "***"
        run = []
    return shown


def restricted_content(text: str) -> str | None:
    """What in a text may not be shown to agents ("an e-mail address", "a phone or identity
    document number"); None when nothing."""
    for match in _IN_TEXT.finditer(text):
        if match.lastgroup == "email":
            return "an e-mail address"
        if match.lastgroup == "digits":
            return "a phone or identity document number"
        if match.lastgroup in ("bearer", "secret"):
            return "a secret"
    return None


def check_value(name: str, value: str, rule: FieldRule) -> str | None:
    """Why a value may not be stored in this field (None: it may). Free text, and any field
    agents may see as written, must not carry phone or identity numbers or e-mails: the
    value is refused rather than re-classified, so nothing is hidden behind the writer's back."""
    if rule.kind not in _TEXT_KINDS:
        return None
    if rule.kind is not Kind.FREE_TEXT and not rule.agent_visible:
        return None
    found = restricted_content(value)
    if found is None:
        return None
    return (f"{name}: looks like {found}, which a {rule.kind.value} field may not hold; "
            "store it in a field of its kind")
