"""Per-queue targets and alarm thresholds (admins set them; the supervisor console and the
TV wallboard colour their tiles by them), and display tokens for wall TVs."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.queues.models import DisplayToken, QueueSettings
from callcenter.users.security import token_hash

DISPLAY_PREFIX = "cd_"  # display tokens; API tokens start "cc_", login tokens "s."


class InvalidThresholds(ValueError):
    """Amber and red the wrong way round: names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Targets:
    service_level_seconds: int = 20
    service_level_target: float = 80.0
    waiting_amber: int = 3
    waiting_red: int = 6
    longest_wait_amber: int = 60
    longest_wait_red: int = 180
    service_level_amber: float = 80.0
    service_level_red: float = 60.0
    abandoned_amber: float = 5.0
    abandoned_red: float = 10.0
    sound_on_red: bool = True

    def check(self) -> None:
        """Amber comes before red: higher figures are worse, except the service level's."""
        for name in ("waiting", "longest_wait", "abandoned"):
            if getattr(self, f"{name}_amber") > getattr(self, f"{name}_red"):
                raise InvalidThresholds(f"{name}_amber", f"{name}_amber must not exceed "
                                                         f"{name}_red")
        if self.service_level_amber < self.service_level_red:
            raise InvalidThresholds("service_level_amber", "service_level_amber must not be "
                                                           "below service_level_red")


DEFAULTS = Targets()
FIELDS = tuple(f.name for f in fields(Targets))


def grade(value: float | None, amber: float, red: float, *, lower_is_worse: bool = False) -> str:
    """green / amber / red for a figure (None: nothing to judge yet, green)."""
    if value is None:
        return "green"
    if lower_is_worse:
        return "red" if value < red else "amber" if value < amber else "green"
    return "red" if value >= red else "amber" if value >= amber else "green"


async def all_targets(session: AsyncSession) -> dict[str, Targets]:
    """The queues an admin configured; others have DEFAULTS."""
    rows = await session.scalars(select(QueueSettings))
    return {row.queue: Targets(**{name: getattr(row, name) for name in FIELDS})
            for row in rows}


async def save_targets(session: AsyncSession, queue: str, targets: Targets,
                       by: str) -> QueueSettings:
    targets.check()
    row = await session.get(QueueSettings, queue)
    if row is None:
        row = QueueSettings(queue=queue)
        session.add(row)
    for name, value in asdict(targets).items():
        setattr(row, name, value)
    row.updated_at, row.updated_by = datetime.now(UTC), by
    await session.flush()
    return row


async def delete_targets(session: AsyncSession, queue: str) -> bool:
    row = await session.get(QueueSettings, queue)
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


async def create_display(session: AsyncSession, name: str, by: str) -> tuple[DisplayToken, str]:
    """A new display token (returned once, in clear)."""
    token = DISPLAY_PREFIX + secrets.token_urlsafe(24)
    row = DisplayToken(name=name, token_hash=token_hash(token), created_at=datetime.now(UTC),
                       created_by=by)
    session.add(row)
    await session.flush()
    return row, token


async def display_for_token(session: AsyncSession, token: str) -> DisplayToken | None:
    if not token.startswith(DISPLAY_PREFIX):
        return None
    row = await session.scalar(select(DisplayToken).where(
        DisplayToken.token_hash == token_hash(token)))
    return row if row is not None and row.revoked_at is None else None


async def revoke_display(session: AsyncSession, display_id: int) -> DisplayToken | None:
    row = await session.get(DisplayToken, display_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await session.flush()
    return row


def targets_json(targets: dict[str, Targets], queues: list[str]) -> dict[str, dict[str, Any]]:
    """Every queue's targets, configured or default, for the pictures."""
    return {q: asdict(targets.get(q, DEFAULTS)) for q in sorted(set(queues) | set(targets))}
