"""Structured (key=value) logs; phone numbers and secrets never appear in full."""

from __future__ import annotations

import logging
import sys
import time

from callcenter.phone import mask_number

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "color_message"}
# Fields whose values are phone numbers: logged masked.
_NUMBER_FIELDS = {"number", "caller", "called", "callerid", "customer"}
_SECRET_FIELDS = {"secret", "password", "token"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"{ts}.{int(record.msecs):03d}Z", record.levelname.lower(), record.name,
                 _quote(record.getMessage())]
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in _SECRET_FIELDS:
                value = "***"
            elif key in _NUMBER_FIELDS and value is not None:
                value = mask_number(str(value))
            parts.append(f"{key}={_quote(str(value))}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(text: str) -> str:
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "asyncio", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
