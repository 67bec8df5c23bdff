"""Login throttling, per username and per client address, with `limits` moving windows.

Each side has layered limits (e.g. 5 per minute, 10 per hour, 20 per day): the longer windows
are the back-off, so a guesser waits a minute, then an hour, then a day. Every attempt counts
(counted before the password is checked, so parallel guesses cannot slip past the count); a
successful login clears its username's count, never its address's. Unknown usernames are
counted like known ones, so a 429 tells nothing about which exist. In memory: the service is
one process, and a restart forgiving a few guesses is acceptable.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class Throttled(Exception):
    """Too many attempts; try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many login attempts; retry after {retry_after} s")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, per_user: str, per_address: str) -> None:
        """Limits in the `limits` notation, e.g. "5/minute;10/hour;20/day"."""
        self._per_user = parse_many(per_user)
        self._per_address = parse_many(per_address)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def attempt(self, username: str, address: str | None) -> None:
        """Counts one attempt, or raises Throttled (and counts nothing) when either side is
        over a limit. No await between the checks and the counting: atomic on the loop."""
        keys = self._keys(username, address)
        waits = [self._wait(item, key) for items, key in keys for item in items
                 if not self._limiter.test(item, key)]
        if waits:
            raise Throttled(max(waits))
        for items, key in keys:
            for item in items:
                self._limiter.hit(item, key)

    def succeeded(self, username: str) -> None:
        for item in self._per_user:
            self._limiter.clear(item, _user_key(username))

    def _keys(self, username: str, address: str | None) -> list[tuple[list[RateLimitItem], str]]:
        return [(self._per_user, _user_key(username)),
                (self._per_address, f"address:{address or 'unknown'}")]

    def _wait(self, item: RateLimitItem, key: str) -> int:
        reset_at = self._limiter.get_window_stats(item, key).reset_time
        return max(1, math.ceil(reset_at - time.time()))


def _user_key(username: str) -> str:
    return "user:" + username.strip().casefold()[:80]
