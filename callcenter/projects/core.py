"""The dialler's pure core: what a call's result means for the number, when it may be dialled
again, in which hours, and which free agent gets which project's next number.

No I/O and no clock of its own: every function takes `now`, so tests move time at will.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

RESULTS = ("answered", "busy", "no_answer", "congestion", "invalid", "failed", "abandoned")
# results after which the number is never dialled again, whatever the rules say
FINAL = frozenset({"invalid"})
# Asterisk's OriginateResponse Reason: the last control frame the channel saw
_REASONS = {4: "answered", 5: "busy", 8: "congestion", 3: "no_answer", 1: "no_answer",
            0: "failed"}
# Hangup causes (Q.850) that say the number itself is wrong
_INVALID_CAUSES = frozenset({1, 3, 22, 28})


def classify(reason: int | None, cause: int | None = None) -> str:
    """The attempt's result from the channel: Originate's Reason and the hangup cause."""
    if cause in _INVALID_CAUSES:
        return "invalid"
    if cause == 17:
        return "busy"
    if cause in (19, 18) and reason != 4:
        return "no_answer"
    if cause == 34 or cause == 42:
        return "congestion"
    return _REASONS.get(reason if reason is not None else -1, "failed")


@lru_cache(maxsize=4096)
def timezones_for(e164: str, fallback: str = "UTC") -> tuple[str, ...]:
    """The callee's possible time zones, from the number (phonenumbers' geocoding data).
    A number spanning several zones (a Russian mobile) keeps them all: calling hours must
    hold in each, so nobody is woken up."""
    try:
        zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        zones = ()
    known = tuple(z for z in zones if z != "Etc/Unknown" and _zone(z) is not None)
    return known or (fallback,)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Hours:
    """Calling hours in the callee's local time: minutes after midnight, [start, end)."""

    start: int
    end: int

    def contains(self, when: datetime, zones: Iterable[str]) -> bool:
        for name in zones:
            local = when.astimezone(_zone(name) or ZoneInfo("UTC"))
            minute = local.hour * 60 + local.minute
            if not self.start <= minute < self.end:
                return False
        return True

    def next_allowed(self, when: datetime, zones: Iterable[str]) -> datetime | None:
        """The earliest moment at or after `when` inside the hours in every zone, within
        three days; None when the zones' hours never overlap. Where windows overlap, the
        overlap opens when one of them opens: only those moments need checking."""
        zones = tuple(zones)
        if self.contains(when, zones):
            return when
        candidates = sorted(opening for name in zones for opening in _openings(
            when, name, self.start, days=3))
        return next((c for c in candidates if self.contains(c, zones)), None)


def _openings(when: datetime, zone: str, start: int, days: int) -> list[datetime]:
    """When the zone's window opens, from `when` on, over the next days (aware, UTC)."""
    local = when.astimezone(_zone(zone) or ZoneInfo("UTC"))
    first = local.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
    out = []
    for day in range(-1, days + 1):
        opening = (first + timedelta(days=day)).astimezone(when.tzinfo)
        if opening >= when:
            out.append(opening)
    return out


@dataclass(frozen=True, slots=True)
class Rules:
    """A project's retry rules: minutes after each result (None: never again)."""

    retry: Mapping[str, int | None]
    max_attempts: int
    hours: Hours


@dataclass(frozen=True, slots=True)
class DispositionRule:
    """What an agent's result code means (from the dispositions domain)."""

    code: str
    is_success: bool = False
    closes_number: bool = False
    retry_after_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """What becomes of a number after an attempt: queued again at `next_at`, or done."""

    state: str  # queued | done
    next_at: datetime | None
    why: str


def after_attempt(rules: Rules, *, result: str, attempts: int, now: datetime,
                  zones: Iterable[str], disposition: DispositionRule | None = None,
                  callback_at: datetime | None = None) -> Step:
    """The number's next step. Order: an agent's call-back time wins over every rule; then
    the disposition (closes the number, or its own retry delay, or success); then the
    channel's result by the project's rules. Never beyond max attempts, never out of hours."""
    if result in FINAL:
        return Step("done", None, result)
    if attempts >= rules.max_attempts:
        return Step("done", None, "max_attempts")
    if callback_at is not None:
        return _queued(rules, max(callback_at, now), zones, "callback")
    if disposition is not None:
        if disposition.closes_number:
            return Step("done", None, f"disposition:{disposition.code}")
        if disposition.retry_after_minutes is not None:
            return _queued(rules, now + timedelta(minutes=disposition.retry_after_minutes),
                           zones, f"disposition:{disposition.code}")
        if disposition.is_success or result == "answered":
            return Step("done", None, f"disposition:{disposition.code}")
    if result == "answered":
        return Step("done", None, "answered")
    minutes = rules.retry.get(result)
    if minutes is None:
        return Step("done", None, f"no retry after {result}")
    return _queued(rules, now + timedelta(minutes=minutes), zones, f"retry after {result}")


def _queued(rules: Rules, when: datetime, zones: Iterable[str], why: str) -> Step:
    allowed = rules.hours.next_allowed(when, zones)
    if allowed is None:
        return Step("done", None, "no calling hours")
    return Step("queued", allowed, why)


def may_dial(*, now: datetime, zones: Iterable[str], hours: Hours, attempts: int,
             max_attempts: int, on_dnc: bool) -> str | None:
    """Why a number may not be dialled now (None: it may). Checked at the last moment."""
    if on_dnc:
        return "dnc"
    if attempts >= max_attempts:
        return "max_attempts"
    if not hours.contains(now, zones):
        return "out_of_hours"
    return None


def plan(free_agents: Iterable[str], projects_of: Mapping[str, list[tuple[int, int]]],
         busy_projects: frozenset[int] = frozenset()) -> list[tuple[str, int]]:
    """Progressive pacing: one call per free agent, for their highest-priority project
    (`projects_of[agent]`: (priority, project id) of running progressive projects), never
    more calls than free agents, so no customer answers to silence. `busy_projects`: those
    with nothing due (skipped)."""
    out = []
    for agent in sorted(set(free_agents)):
        choices = sorted((p for p in projects_of.get(agent, []) if p[1] not in busy_projects),
                         key=lambda p: (-p[0], p[1]))
        if choices:
            out.append((agent, choices[0][1]))
    return out
