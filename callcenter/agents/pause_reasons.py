"""Pause reasons: configured in the database by administrators; until they first are, the
`pause_reasons` setting is the list (its seed)."""

from __future__ import annotations

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base


class PauseReason(Base):
    __tablename__ = "pause_reasons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # as the agent picks it and as it is stored on the state change (AgentStateChange.reason)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(Integer)


async def configured(session: AsyncSession) -> list[str] | None:
    """The administrators' list, in order; None while they never set one."""
    codes = list(await session.scalars(select(PauseReason.code).order_by(PauseReason.position)))
    return codes or None


async def pause_reasons(session: AsyncSession, seed: list[str]) -> list[str]:
    """The reasons an agent pauses with: the configured list, else the setting."""
    return await configured(session) or list(seed)


async def set_pause_reasons(session: AsyncSession, codes: list[str]) -> None:
    """Replaces the list (the caller commits). An empty list goes back to the setting."""
    await session.execute(delete(PauseReason))
    session.add_all(PauseReason(code=code, position=n) for n, code in enumerate(codes))
