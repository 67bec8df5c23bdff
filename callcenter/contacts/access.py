"""Which cards an agent may read: of the numbers they are, or recently were, on a call with.

Callbacks are not assigned to agents in this service (any agent may take any open one from
/callbacks, where numbers are masked); starting one puts the agent on a call with the
number, which opens its card like any other call. Every card an agent reads is audited.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.log import audit
from callcenter.calls.models import Call


class CardNotAllowed(Exception):
    """An agent asked for the card of a number they have not been on a call with."""


async def check_agent_may_read(session: AsyncSession, *, agent_name: str | None,
                               numbers: Collection[str], live_numbers: Collection[str],
                               window: timedelta) -> None:
    """Raises CardNotAllowed unless one of `numbers` (E.164) is on a call with the agent now
    (`live_numbers`, from the screen-pop hub) or was within `window`."""
    if not numbers or agent_name is None:
        raise CardNotAllowed
    if set(numbers) & set(live_numbers):
        return
    since = datetime.now(UTC) - window
    recent = await session.scalar(
        select(Call.id).where(
            Call.agent == agent_name,
            or_(Call.caller.in_(numbers), Call.called.in_(numbers)),
            or_(Call.started_at >= since, Call.ended_at >= since))
        .limit(1))
    if recent is None:
        raise CardNotAllowed


def audit_card_read(session: AsyncSession, *, username: str, contact_id: int | None,
                    via: str, client: str | None = None) -> None:
    """Recorded in the caller's transaction; `via`: screenpop, contact, ring."""
    audit(session, username=username, action="contact.read", object_type="contact",
          object_id=contact_id, client=client, details=f"via={via}")
