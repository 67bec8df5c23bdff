"""What a column, Asterisk or the clock can hold: the bounds every input is checked against.

Lengths come from the SQLAlchemy models themselves, so a column and its check cannot drift
apart. Values that reach AMI must not carry CR/LF (they would end the action and start a new
one) or commas and pipes (Asterisk splits interfaces and variables on them).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import InstrumentedAttribute

INT32_MAX = 2**31 - 1  # Integer columns (ids) on PostgreSQL
INT64_MAX = 2**63 - 1  # OFFSET on PostgreSQL and SQLite
TEXT_MAX = 10_000  # a Text column: unbounded in the database, not in a request
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

# No NUL (PostgreSQL text cannot hold it) and no other C0 control but tab (none in a name).
PLAIN_TEXT = r"^[^\x00]*$"
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
# An AMI header value: one line, and no "," or "|" Asterisk would split on.
AMI_VALUE = r"^[^\x00-\x1f\x7f,|]*$"
# A login name.
USERNAME = r"^[\w.@-]+$"
# A queue name as Asterisk's queues.conf takes it.
QUEUE_NAME = r"^[A-Za-z0-9_.\-]+$"
# An Asterisk interface: technology/resource, e.g. PJSIP/1001 or Local/2001@agents/n.
INTERFACE = r"^[A-Za-z]+/[^\x00-\x20\x7f,|;]+$"


class InvalidInput(ValueError):
    """A value the service cannot store or send: answered as a 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def column_length(attribute: InstrumentedAttribute[Any]) -> int:
    """The declared length of a String column; TEXT_MAX for unbounded text."""
    length = attribute.property.columns[0].type.length
    return length if length is not None else TEXT_MAX


def as_utc(value: datetime) -> datetime:
    """Aware UTC within what every database and `datetime` arithmetic can hold.

    A naive value is taken as UTC (documented in the README)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"date must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def check_text(field: str, value: str, max_length: int, pattern: str = PLAIN_TEXT) -> str:
    """For values that do not come through a request schema (imported cells, CLI arguments)."""
    if len(value) > max_length:
        raise InvalidInput(field, f"longer than {max_length} characters")
    if not re.fullmatch(pattern, value):
        raise InvalidInput(field, "contains characters it may not hold (control characters, "
                           "or commas where Asterisk splits on them)")
    return value
