"""IVR menus from a plain TOML file, validated when the service starts.

A menu plays a prompt (per language), reads one digit, and maps it to an action: a queue, a
sub-menu, voicemail, a callback request or the operator. Business hours and holidays belong
to a menu; outside them its out-of-hours action runs instead.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_MENUS = Path(__file__).with_name("menus.toml")
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
                    r"(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$")
Digit = Annotated[str, Field(pattern=r"^[0-9*#]$")]


class Action(BaseModel):
    """Exactly one of the targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    queue: str | None = None
    priority: int | None = None
    menu: str | None = None
    voicemail: str | None = None
    callback: str | None = None  # the queue the callback is for
    operator: bool = False
    hangup: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        targets = [self.queue, self.menu, self.voicemail, self.callback,
                   self.operator or None, self.hangup or None]
        if sum(t is not None for t in targets) != 1:
            raise ValueError("an action needs exactly one of queue, menu, voicemail, "
                             "callback, operator, hangup")
        return self

    @property
    def kind(self) -> str:
        for name in ("queue", "menu", "voicemail", "callback"):
            if getattr(self, name) is not None:
                return name
        return "operator" if self.operator else "hangup"


Prompt = str | dict[str, str]


class Menu(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: Prompt
    invalid_prompt: Prompt = "please-try-again"
    timeout: float = Field(5.0, gt=0, le=60)  # seconds to wait for a digit
    retries: int = Field(3, ge=1, le=10)
    options: dict[Digit, Action]
    on_failure: Action = Action(operator=True)  # no valid digit after all retries
    hours: list[str] = []  # e.g. "mon-fri 09:00-18:00"; empty: always open
    holidays: list[date] = []  # this menu's own, besides the IVR-wide ones
    out_of_hours: Action | None = None
    out_of_hours_prompt: Prompt | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for item in value:
            _parse_hours(item)
        return value

    @model_validator(mode="after")
    def _out_of_hours(self) -> Self:
        if (self.hours or self.holidays) and self.out_of_hours is None:
            raise ValueError("a menu with hours or holidays needs an out_of_hours action")
        return self

    def prompt_for(self, prompt: Prompt, language: str, default_language: str) -> str:
        if isinstance(prompt, str):
            return prompt
        return prompt.get(language) or prompt.get(default_language) or next(iter(prompt.values()))

    def is_open(self, now: datetime, holidays: frozenset[date]) -> bool:
        if now.date() in holidays or now.date() in self.holidays:
            return False
        if not self.hours:
            return True
        day = DAYS[now.weekday()]
        return any(day in days and start <= now.time() < end
                   for days, start, end in map(_parse_hours, self.hours))


class IVRConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str = "UTC"
    holidays: list[date] = []
    operator_queue: str = "support"
    menus: dict[str, Menu]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references(self) -> Self:
        for name, menu in self.menus.items():
            actions = [*menu.options.values(), menu.on_failure]
            if menu.out_of_hours:
                actions.append(menu.out_of_hours)
            for action in actions:
                if action.menu is not None and action.menu not in self.menus:
                    raise ValueError(f"menu {name!r} leads to unknown menu {action.menu!r}")
        return self

    def now(self) -> datetime:
        return datetime.now(ZoneInfo(self.timezone))

    @property
    def holiday_set(self) -> frozenset[date]:
        return frozenset(self.holidays)


def _parse_hours(item: str) -> tuple[set[str], time, time]:
    match = _HOURS.match(item.strip().lower())
    if match is None:
        raise ValueError(f"hours {item!r}: expected e.g. 'mon-fri 09:00-18:00'")
    days: set[str] = set()
    for part in match["days"].split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"hours {item!r}: unknown day")
        i, j = DAYS.index(first), DAYS.index(last or first)
        days.update(DAYS[i:j + 1] if i <= j else DAYS[i:] + DAYS[:j + 1])
    try:
        start, end = time.fromisoformat(match["start"]), time.fromisoformat(match["end"])
    except ValueError as exc:
        raise ValueError(f"hours {item!r}: {exc}") from exc
    if end <= start:
        raise ValueError(f"hours {item!r}: end before start")
    return days, start, end


def load_ivr(path: Path | None) -> IVRConfig:
    """Raises ValueError with the file and the problem: the service refuses to start on it."""
    path = path or DEFAULT_MENUS
    try:
        data = tomllib.loads(path.read_text())
        return IVRConfig.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValueError(f"IVR config {path}: {exc}") from exc
