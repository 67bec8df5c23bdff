"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", with the subscription's secret.

Header `Callcenter-Signature: t=<unix seconds>,v1=<hex>`. A receiver recomputes the HMAC over
the timestamp it was given, a dot and the raw body, compares in constant time, and refuses a
timestamp further than REPLAY_WINDOW from its clock (a captured request cannot be replayed
later; within the window, the event id in `Callcenter-Event-Id` lets it drop repeats).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Callcenter-Signature"
EVENT_ID_HEADER = "Callcenter-Event-Id"
EVENT_TYPE_HEADER = "Callcenter-Event-Type"
REPLAY_WINDOW = 300  # seconds


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> str:
    """The header value for a body sent now."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           window: int = REPLAY_WINDOW) -> bool:
    """What a receiver does (and the tests): a valid signature with a fresh timestamp."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > window:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))
