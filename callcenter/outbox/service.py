"""Subscriptions, deliveries and the event stream: what the admin API and GET /events do.

Domain errors only (UnsafeTarget, NotFound, CursorExpired); the API maps them to HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.lookup import field_rules
from callcenter.outbox.envelope import envelope
from callcenter.outbox.models import OutboxEvent, OutboxMark, WebhookDelivery, WebhookSubscription
from callcenter.outbox.targets import check_target


class NotFound(LookupError):
    pass


class CursorExpired(Exception):
    """The cursor is older than the retention: events after it were deleted."""

    def __init__(self, oldest: int) -> None:
        super().__init__(f"events up to {oldest} were deleted by retention; resume from "
                         f"after={oldest} (and reconcile what was missed)")
        self.oldest = oldest


async def create_subscription(session: AsyncSession, *, url: str, events: Sequence[str],
                              role: str, created_by: str, secret: str | None = None,
                              allow_private: bool = False, private_allowed_by_setting: bool,
                              description: str | None = None) -> WebhookSubscription:
    """Checks the target (UnsafeTarget); the subscription gets events emitted from now on."""
    await check_target(url, allow_private=allow_private or private_allowed_by_setting)
    head = await session.scalar(select(func.max(OutboxEvent.id))) or 0
    sub = WebhookSubscription(url=url, events=sorted(set(events)), role=role,
                              secret=secret or secrets.token_urlsafe(32),
                              allow_private=allow_private, active=True,
                              description=description, created_at=datetime.now(UTC),
                              created_by=created_by, cursor=head)
    session.add(sub)
    await session.flush()
    return sub


async def get_subscription(session: AsyncSession, sub_id: int) -> WebhookSubscription:
    sub = await session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise NotFound("no such subscription")
    return sub


async def update_subscription(session: AsyncSession, sub: WebhookSubscription, *,
                              private_allowed_by_setting: bool,
                              **changes: Any) -> WebhookSubscription:
    url = changes.get("url", sub.url)
    allow = changes.get("allow_private", sub.allow_private)
    if "url" in changes or "allow_private" in changes:
        await check_target(url, allow_private=allow or private_allowed_by_setting)
    for key, value in changes.items():
        setattr(sub, key, sorted(set(value)) if key == "events" else value)
    await session.flush()
    return sub


async def delete_subscription(session: AsyncSession, sub: WebhookSubscription) -> None:
    await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub.id, WebhookDelivery.state == "pending")
        .values(state="dead", last_error="subscription deleted"))
    await session.delete(sub)


async def list_deliveries(session: AsyncSession, *, subscription_id: int | None,
                          state: str | None, failing: bool, limit: int,
                          offset: int) -> list[tuple[WebhookDelivery, OutboxEvent | None]]:
    """Newest first. `failing`: pending deliveries that have failed at least once."""
    query = (select(WebhookDelivery, OutboxEvent)
             .outerjoin(OutboxEvent, OutboxEvent.id == WebhookDelivery.outbox_id)
             .order_by(WebhookDelivery.id.desc()))
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    if failing:
        query = query.where(WebhookDelivery.state == "pending", WebhookDelivery.attempts > 0)
    return [(d, e) for d, e in await session.execute(query.limit(limit).offset(offset))]


async def delivery_counts(session: AsyncSession) -> dict[int, tuple[int, int]]:
    """Per subscription id: (failing, dead) deliveries, for the admins' list at a glance.
    Failing as in list_deliveries: pending and failed at least once."""
    failing = case((and_(WebhookDelivery.state == "pending", WebhookDelivery.attempts > 0), 1),
                   else_=0)
    dead = case((WebhookDelivery.state == "dead", 1), else_=0)
    rows = await session.execute(
        select(WebhookDelivery.subscription_id, func.sum(failing), func.sum(dead))
        .group_by(WebhookDelivery.subscription_id))
    return {sub_id: (int(f or 0), int(d or 0)) for sub_id, f, d in rows}


async def redeliver(session: AsyncSession, delivery_id: int) -> WebhookDelivery:
    """Sent again as soon as possible, with a fresh 24 h window. Its event may then arrive
    after later events of its key: receivers order by `sequence`."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery")
    if await session.get(OutboxEvent, delivery.outbox_id) is None:
        raise NotFound("the event was deleted by retention")
    now = datetime.now(UTC)
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.first_attempt_at = None
    await session.flush()
    return delivery


async def redeliver_dead(session: AsyncSession, subscription_id: int) -> int:
    """Every dead letter of a subscription back in line."""
    now = datetime.now(UTC)
    result = await session.execute(update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.state == "dead")
        .values(state="pending", attempts=0, next_attempt_at=now, first_attempt_at=None))
    return result.rowcount or 0


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads the stream: their role, and for agents their agent name (own events only)."""

    role: str
    agent: str | None = None


AGENT_TYPES = frozenset({"call.ringing", "call.answered", "call.ended", "call.updated",
                         "agent.state_changed", "disposition.saved"})


async def read_events(session: AsyncSession, reader: Reader, *, after: int, limit: int,
                      types: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Events after the cursor as the reader may see them, and the cursor to continue from
    (the last event looked at, even one the reader may not see)."""
    purged = await session.scalar(select(OutboxMark.value).where(
        OutboxMark.name == "purged_through")) or 0
    if after < purged:
        raise CursorExpired(purged)
    rows = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.id > after)
                                      .order_by(OutboxEvent.id).limit(limit)))
    if not rows:
        return [], after
    visible = [e for e in rows if (not types or e.type in types) and _may_see(reader, e)]
    rules = await field_rules(session) if any(
        e.type in ("contact.changed", "disposition.saved") for e in visible) else {}
    return [envelope(e, reader.role, rules) for e in visible], rows[-1].id


def _may_see(reader: Reader, event: OutboxEvent) -> bool:
    if reader.role != "agent":
        return True
    return event.type in AGENT_TYPES and reader.agent is not None and event.agent == reader.agent


async def head(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(OutboxEvent.id))) or 0


__all__ = ["CursorExpired", "NotFound", "Reader", "create_subscription", "delete_subscription",
           "get_subscription", "head", "list_deliveries", "read_events", "redeliver",
           "redeliver_dead", "update_subscription"]
