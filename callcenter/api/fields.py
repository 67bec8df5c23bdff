"""Parameter and body types that carry callcenter.limits into the OpenAPI document.

A value outside them never reaches the database or Asterisk: pydantic answers 422 naming
the field, and the document tells a client the bounds in advance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, StringConstraints
from sqlalchemy.orm import InstrumentedAttribute

from callcenter.limits import (
    AMI_VALUE,
    INT32_MAX,
    INT64_MAX,
    INTERFACE,
    ONE_LINE,
    PLAIN_TEXT,
    QUEUE_NAME,
    as_utc,
    column_length,
)


def text(column: InstrumentedAttribute[Any] | int, *, pattern: str = ONE_LINE,
         min_length: int = 0) -> Any:
    """A string no longer than its column (or a number of characters), matching `pattern`."""
    max_length = column if isinstance(column, int) else column_length(column)
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=pattern)]


def multiline(column: InstrumentedAttribute[Any] | int) -> Any:
    """Free text (notes): line breaks allowed, NUL not."""
    return text(column, pattern=PLAIN_TEXT)


def ami(column: InstrumentedAttribute[Any] | int, *, min_length: int = 1) -> Any:
    """A value sent to Asterisk in an AMI header: one line, no commas or pipes."""
    return text(column, pattern=AMI_VALUE, min_length=min_length)


def queue_name(column: InstrumentedAttribute[Any]) -> Any:
    return text(column, pattern=QUEUE_NAME, min_length=1)


def interface(column: InstrumentedAttribute[Any]) -> Any:
    return text(column, pattern=INTERFACE, min_length=3)


# A phone number as people type it (+7 916 123-45-67); normalised to E.164 by the service.
PhoneInput = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=AMI_VALUE)]
# Aware UTC; a naive value is taken as UTC.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]

# Row ids are Integer columns: anything beyond cannot exist, so it is a 422, not a 500.
ObjectId = Annotated[int, Path(ge=1, le=INT32_MAX)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]
