"""Structured (key=value) logs with the Linkedid as context; never a full phone number, e-mail
or token.

Everything a record carries (message, extras, exception text and traceback, SQL errors) goes
through the data policy's `redact_log` as one line is written, so a number that slips into a
message or an exception is masked like one passed as a field.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from callcenter.phone import mask_number
from callcenter.policy import redact_log

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "color_message"}
# Fields whose values are phone numbers (or extensions): logged masked, however short.
_NUMBER_FIELDS = {"number", "caller", "called", "callerid", "customer"}
_SECRET_FIELDS = {"secret", "password", "token", "ticket", "authorization"}
# The call a log line is about, for lines written while handling it (`log_context`).
_linkedid: contextvars.ContextVar[str | None] = contextvars.ContextVar("linkedid",
                                                                       default=None)


@contextlib.contextmanager
def log_context(linkedid: str | None) -> Iterator[None]:
    """Lines logged inside carry `linkedid=` (unless they give their own)."""
    token = _linkedid.set(linkedid or None)
    try:
        yield
    finally:
        _linkedid.reset(token)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [record.levelname.lower(), record.name, _quote(record.getMessage())]
        extras = {key: value for key, value in record.__dict__.items()
                  if key not in _STANDARD and not key.startswith("_")}
        linkedid = _linkedid.get()
        if linkedid and "linkedid" not in extras:
            extras = {"linkedid": linkedid, **extras}
        for key, value in extras.items():
            if key in _SECRET_FIELDS:
                value = "***"
            elif key in _NUMBER_FIELDS and value is not None:
                value = mask_number(str(value))
            parts.append(f"{key}={_quote(str(value))}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return f"{ts}.{int(record.msecs):03d}Z " + redact_log(line)


class NoQueryString(logging.Filter):
    """uvicorn's request lines (access log, WebSocket accepted/rejected) without query
    strings: they may carry tokens (/ws/agent?token=...) and numbers (/screenpop?number=)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(urlsplit(a).path if isinstance(a, str) and a.startswith("/")
                                else a for a in record.args)
        return True


def _quote(text: str) -> str:
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(NoQueryString())
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
