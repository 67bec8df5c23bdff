"""CRM integration: webhook subscriptions, their deliveries (admins), and GET /events."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import select

from callcenter.api.auth import Admin, Agent, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import Problem, errors, invalid
from callcenter.api.fields import Limit, ObjectId, Offset, text
from callcenter.audit.log import audit
from callcenter.limits import INT64_MAX
from callcenter.outbox.catalogue import EVENT_TYPES, EXAMPLES
from callcenter.outbox.emit import signal, woken
from callcenter.outbox.models import WebhookSubscription
from callcenter.outbox.service import (
    CursorExpired,
    NotFound,
    Reader,
    create_subscription,
    delete_subscription,
    delivery_counts,
    get_subscription,
    list_deliveries,
    read_events,
    redeliver,
    redeliver_dead,
    update_subscription,
)
from callcenter.outbox.targets import UnsafeTarget

router = APIRouter(tags=["webhooks"])
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Role = Literal["agent", "supervisor", "admin"]
Url = Annotated[str, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s]+$",
                           description="http(s) URL; private addresses need allow_private")]
Secret = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[\x21-\x7e]+$")]
Description = text(WebhookSubscription.description)


# ---- the payloads, as OpenAPI components (one model per event type, from its example)

def _payload_model(event_type: str, example: dict[str, Any]) -> type[BaseModel]:
    def kind(value: Any) -> Any:
        if isinstance(value, bool):
            return bool | None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float | None
        if isinstance(value, str):
            return str | None
        if isinstance(value, list):
            return list[dict[str, Any]] | None
        if isinstance(value, dict):
            return dict[str, Any] | None
        return Any
    name = "".join(part.capitalize() for part in event_type.replace("_", ".").split(".")) + "V1"
    fields: dict[str, Any] = {key: (kind(value), None) for key, value in example.items()}
    return create_model(name, __config__=ConfigDict(
        extra="allow", json_schema_extra={"examples": [example]}), **fields)


PAYLOADS = {event_type: _payload_model(event_type, EXAMPLES[event_type])
            for event_type in EVENT_TYPES}
Catalogue = create_model("EventCatalogue", **{
    event_type.replace(".", "_"): (PAYLOADS[event_type], ...) for event_type in EVENT_TYPES})


class EventOut(BaseModel):
    """The envelope of every event, in webhooks and in GET /events."""

    id: str = Field(description="unique per event: receivers drop repeats by it")
    type: EventType
    version: int
    sequence: int = Field(description="outbox position: the stream's cursor, increasing in "
                                      "commit order")
    ordering_key: str = Field(description="events of one key (a call's linkedid) are "
                                          "delivered in sequence order")
    created_at: datetime
    data: dict[str, Any] = Field(description="the payload of `type` (see EventCatalogue), "
                                             "as the subscription's or token's role may see it")


class EventPage(BaseModel):
    events: list[EventOut]
    next: int = Field(description="pass as `after` to continue")


@router.get("/webhooks/catalogue", response_model=Catalogue)
async def catalogue(principal: Admin) -> Any:
    """An example payload of each event type (version 1 of each): the schemas are the
    EventCatalogue's properties."""
    return {event_type.replace(".", "_"): EXAMPLES[event_type] for event_type in EVENT_TYPES}


# ---- subscriptions

class NewSubscription(BaseModel):
    url: Url
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    role: Role = Field(description="what the receiver may see of personal data")
    secret: Secret | None = Field(None, description="HMAC key; generated when not given")
    allow_private: bool = Field(False, description="allow a loopback, link-local or private "
                                                   "target (admins only)")
    description: Description | None = None


class SubscriptionPatch(BaseModel):
    url: Url | None = None
    events: list[EventType] | None = Field(None, min_length=1, max_length=len(EVENT_TYPES))
    role: Role | None = None
    secret: Secret | None = None
    allow_private: bool | None = None
    active: bool | None = None
    description: Description | None = None


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str
    events: list[str]
    role: str
    allow_private: bool
    active: bool
    description: str | None
    created_at: datetime
    created_by: str
    cursor: int = Field(description="the last outbox event considered for it")


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="the HMAC key: shown once")


def _unsafe(exc: UnsafeTarget) -> Exception:
    return invalid(("body", "url"), str(exc))


@router.post("/webhooks", response_model=SubscriptionCreated, status_code=201)
async def add_subscription(body: NewSubscription, principal: Admin, db: DbDep,
                           service: ServiceDep, request: Request) -> Any:
    try:
        sub = await create_subscription(
            db, url=body.url, events=body.events, role=body.role, secret=body.secret,
            allow_private=body.allow_private, description=body.description,
            created_by=principal.username,
            private_allowed_by_setting=service.settings.webhook_allow_private_targets)
    except UnsafeTarget as exc:
        raise _unsafe(exc) from None
    audit(db, username=principal.username, action="webhook.create", object_type="webhook",
          object_id=sub.id, client=client_ip(request),
          details=f"role={sub.role} private={sub.allow_private}")
    await db.commit()
    return {**SubscriptionOut.model_validate(sub).model_dump(), "secret": sub.secret}


class SubscriptionListed(SubscriptionOut):
    failing: int = Field(description="pending deliveries that failed at least once")
    dead: int = Field(description="dead letters: given up after the retry window")


@router.get("/webhooks", response_model=list[SubscriptionListed])
async def list_subscriptions(principal: Admin, db: DbDep) -> Any:
    """Each with its failing and dead deliveries counted (what the console's list shows)."""
    counts = await delivery_counts(db)
    return [{**SubscriptionOut.model_validate(sub).model_dump(),
             "failing": counts.get(sub.id, (0, 0))[0], "dead": counts.get(sub.id, (0, 0))[1]}
            for sub in await db.scalars(select(WebhookSubscription)
                                        .order_by(WebhookSubscription.id))]


# ---- deliveries (before /webhooks/{id}: "deliveries" is no id)

class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event_id: str | None
    event_type: str | None
    sequence: int
    ordering_key: str
    state: str = Field(description="pending | delivered | dead")
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def _delivery(d: Any, e: Any) -> DeliveryOut:
    return DeliveryOut(id=d.id, subscription_id=d.subscription_id,
                       event_id=e.event_id if e else None, event_type=e.type if e else None,
                       sequence=d.outbox_id, ordering_key=d.ordering_key, state=d.state,
                       attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                       last_attempt_at=d.last_attempt_at, last_status=d.last_status,
                       last_error=d.last_error, delivered_at=d.delivered_at,
                       created_at=d.created_at)


SubscriptionFilter = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/webhooks/deliveries", response_model=list[DeliveryOut])
async def deliveries(principal: Admin, db: DbDep, subscription_id: SubscriptionFilter = None,
                     state: Literal["pending", "delivered", "dead"] | None = None,
                     failing: bool = Query(False, description="pending, failed at least once"),
                     limit: Limit = 100, offset: Offset = 0) -> Any:
    """Newest first."""
    return [_delivery(d, e) for d, e in await list_deliveries(
        db, subscription_id=subscription_id, state=state, failing=failing, limit=limit,
        offset=offset)]


@router.get("/webhooks/dead-letters", response_model=list[DeliveryOut])
async def dead_letters(principal: Admin, db: DbDep, subscription_id: SubscriptionFilter = None,
                       limit: Limit = 100, offset: Offset = 0) -> Any:
    """Deliveries given up after webhook_retry_hours of failures."""
    return [_delivery(d, e) for d, e in await list_deliveries(
        db, subscription_id=subscription_id, state="dead", failing=False, limit=limit,
        offset=offset)]


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             responses=errors(404))
async def redeliver_one(delivery_id: ObjectId, principal: Admin, db: DbDep,
                        request: Request) -> Any:
    """Back in line at once (delivered or dead alike), with a fresh retry window."""
    try:
        delivery = await redeliver(db, delivery_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    audit(db, username=principal.username, action="webhook.redeliver",
          object_type="webhook_delivery", object_id=delivery_id, client=client_ip(request))
    await db.commit()
    signal.notify()
    return _delivery(delivery, None)


class Redelivered(BaseModel):
    redelivered: int


@router.post("/webhooks/{subscription_id}/redeliver-dead", response_model=Redelivered,
             responses=errors(404))
async def redeliver_dead_letters(subscription_id: ObjectId, principal: Admin, db: DbDep,
                                 request: Request) -> Redelivered:
    try:
        await get_subscription(db, subscription_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    count = await redeliver_dead(db, subscription_id)
    audit(db, username=principal.username, action="webhook.redeliver_dead",
          object_type="webhook", object_id=subscription_id, client=client_ip(request),
          details=f"deliveries={count}")
    await db.commit()
    signal.notify()
    return Redelivered(redelivered=count)


@router.get("/webhooks/{subscription_id}", response_model=SubscriptionOut,
            responses=errors(404))
async def read_subscription(subscription_id: ObjectId, principal: Admin, db: DbDep) -> Any:
    try:
        return await get_subscription(db, subscription_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.patch("/webhooks/{subscription_id}", response_model=SubscriptionOut,
              responses=errors(404))
async def change_subscription(subscription_id: ObjectId, body: SubscriptionPatch,
                              principal: Admin, db: DbDep, service: ServiceDep,
                              request: Request) -> Any:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    try:
        sub = await get_subscription(db, subscription_id)
        sub = await update_subscription(
            db, sub, private_allowed_by_setting=service.settings.webhook_allow_private_targets,
            **changes)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except UnsafeTarget as exc:
        raise _unsafe(exc) from None
    audit(db, username=principal.username, action="webhook.update", object_type="webhook",
          object_id=subscription_id, client=client_ip(request),
          details=",".join(sorted(changes)))
    await db.commit()
    return sub


@router.delete("/webhooks/{subscription_id}", status_code=204, responses=errors(404))
async def remove_subscription(subscription_id: ObjectId, principal: Admin, db: DbDep,
                              request: Request) -> Response:
    """Its pending deliveries become dead letters (kept until retention)."""
    try:
        sub = await get_subscription(db, subscription_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    await delete_subscription(db, sub)
    audit(db, username=principal.username, action="webhook.delete", object_type="webhook",
          object_id=subscription_id, client=client_ip(request))
    await db.commit()
    return Response(status_code=204)


# ---- the stream

@router.get("/events", response_model=EventPage, responses={410: {
    "model": Problem, "description": "the cursor is older than the outbox retention"}})
async def events(principal: Agent, db: DbDep, service: ServiceDep,
                 after: Annotated[int, Query(ge=0, le=INT64_MAX,
                                             description="cursor: the last sequence seen")] = 0,
                 limit: Limit = 100,
                 wait: Annotated[float, Query(ge=0, le=60, description=(
                     "seconds to wait for an event when there is none yet (long poll; at "
                     "most the events_max_wait_seconds setting)"))] = 0,
                 types: Annotated[list[EventType] | None, Query(max_length=20)] = None) -> Any:
    """The outbox as a resumable stream: events after the cursor, oldest first, filtered by
    the token's role (agents: their own calls and states, personal data masked). Resume
    from any `next` within the retention (outbox_retention_days), after a restart too."""
    reader = Reader(principal.role, principal.agent_name)
    loop = asyncio.get_running_loop()
    until = loop.time() + min(wait, service.settings.events_max_wait_seconds)
    with signal.listening() as flag:
        while True:
            try:
                page, cursor = await read_events(db, reader, after=after, limit=limit,
                                                 types=types)
            except CursorExpired as exc:
                raise HTTPException(410, str(exc)) from None
            await db.rollback()  # no pooled connection held while waiting
            if page:
                return EventPage(events=page, next=cursor)
            after = cursor  # past events this reader may not see
            left = until - loop.time()
            if left <= 0:
                return EventPage(events=[], next=after)
            # woken by a commit here; every 2 s anyway: other processes emit too (the CLI)
            await woken(flag, min(left, 2.0))
