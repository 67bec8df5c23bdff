"""Single-use, short-lived WebSocket tickets.

Browsers cannot set headers on a WebSocket, and a long-lived token in its URL ends up in
access logs and proxies. So the browser trades its token for a ticket (POST /auth/ws-ticket)
and opens /ws/agent?ticket=…: the ticket is signed (its own key), expires in seconds and is
refused the second time. Used tickets are remembered in memory until they expire anyway.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from callcenter.users.models import User
from callcenter.users.security import Signed


class TicketBook:
    def __init__(self, signed: Signed, seconds: int) -> None:
        self._signed = signed
        self.seconds = seconds
        self._used: dict[str, float] = {}  # nonce -> when it would have expired

    def issue(self, user: User) -> str:
        return self._signed.sign({"uid": user.id, "ep": user.token_epoch,
                                  "n": secrets.token_urlsafe(12)})

    def redeem(self, ticket: str) -> dict[str, Any] | None:
        """The payload the first time a valid ticket is shown; None ever after."""
        payload = self._signed.verify(ticket, max_age=self.seconds)
        if payload is None or not isinstance(payload.get("n"), str):
            return None
        now = time.monotonic()
        self._used = {nonce: until for nonce, until in self._used.items() if until > now}
        if payload["n"] in self._used:
            return None
        self._used[payload["n"]] = now + self.seconds + 1
        return payload
