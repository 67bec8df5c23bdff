"""The live supervisor console's API: queue targets and thresholds (admins edit them), today's
figures from our own records, the abandoned calls of the day one click from a callback,
listen / whisper / barge on an agent's call (ChanSpy to the supervisor's own phone), and
display tokens for TV wallboards. Every action is audited."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from callcenter.ami.client import AMIError
from callcenter.api.auth import Admin, Supervisor, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import ObjectId, queue_name, text
from callcenter.audit.log import audit
from callcenter.callbacks.models import Callback
from callcenter.callbacks.service import request_callback
from callcenter.calls.models import Call
from callcenter.limits import USERNAME
from callcenter.policy import NAME, PHONE, Viewer, show
from callcenter.queues.models import DisplayToken, QueueSettings
from callcenter.queues.targets import (
    DEFAULTS,
    InvalidThresholds,
    Targets,
    all_targets,
    create_display,
    delete_targets,
    revoke_display,
    save_targets,
    targets_json,
)
from callcenter.queues.today import abandoned_today, agent_figures, queue_figures, since_midnight
from callcenter.users.models import User

router = APIRouter(tags=["supervisor"])
QueueName = queue_name(QueueSettings.queue)
Username = text(User.username, pattern=USERNAME, min_length=1)
Linkedid = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._-]+$")]
DisplayName = text(DisplayToken.name, min_length=1)
SPY_OPTIONS = {"listen": "q", "whisper": "qw", "barge": "qB"}


class TargetsIn(BaseModel):
    """A queue's targets: amber before red (higher is worse; for the service level, lower)."""

    model_config = ConfigDict(extra="forbid")
    service_level_seconds: int = Field(DEFAULTS.service_level_seconds, ge=1, le=3600)
    service_level_target: float = Field(DEFAULTS.service_level_target, ge=0, le=100,
                                        allow_inf_nan=False)
    waiting_amber: int = Field(DEFAULTS.waiting_amber, ge=0, le=10000)
    waiting_red: int = Field(DEFAULTS.waiting_red, ge=0, le=10000)
    longest_wait_amber: int = Field(DEFAULTS.longest_wait_amber, ge=0, le=86400)
    longest_wait_red: int = Field(DEFAULTS.longest_wait_red, ge=0, le=86400)
    service_level_amber: float = Field(DEFAULTS.service_level_amber, ge=0, le=100,
                                       allow_inf_nan=False)
    service_level_red: float = Field(DEFAULTS.service_level_red, ge=0, le=100,
                                     allow_inf_nan=False)
    abandoned_amber: float = Field(DEFAULTS.abandoned_amber, ge=0, le=100, allow_inf_nan=False)
    abandoned_red: float = Field(DEFAULTS.abandoned_red, ge=0, le=100, allow_inf_nan=False)
    sound_on_red: bool = DEFAULTS.sound_on_red


class TargetsOut(TargetsIn):
    model_config = ConfigDict(extra="ignore")
    queue: str
    configured: bool = Field(description="false: the defaults")


@router.get("/supervisor/targets", response_model=list[TargetsOut])
async def list_targets(principal: Supervisor, db: DbDep,
                       service: ServiceDep) -> list[TargetsOut]:
    """Every queue's targets: configured ones, and the defaults for the queues Asterisk has."""
    configured = await all_targets(db)
    shown = targets_json(configured, list(service.live.queues))
    return [TargetsOut(queue=q, configured=q in configured, **values)
            for q, values in shown.items()]


@router.put("/supervisor/targets/{queue}", response_model=TargetsOut)
async def set_targets(queue: QueueName, body: TargetsIn, principal: Admin, db: DbDep,
                      service: ServiceDep, request: Request) -> TargetsOut:
    targets = Targets(**body.model_dump())
    try:
        await save_targets(db, queue, targets, principal.username)
    except InvalidThresholds as exc:
        raise invalid(("body", exc.field), str(exc)) from None
    audit(db, username=principal.username, action="queue.targets", object_type="queue",
          object_id=queue, client=client_ip(request),
          details=" ".join(f"{k}={v}" for k, v in asdict(targets).items()))
    await db.commit()
    service.today.poke()
    return TargetsOut(queue=queue, configured=True, **asdict(targets))


@router.delete("/supervisor/targets/{queue}", status_code=204, responses=errors(404))
async def reset_targets(queue: QueueName, principal: Admin, db: DbDep, service: ServiceDep,
                        request: Request) -> Response:
    """Back to the defaults."""
    if not await delete_targets(db, queue):
        raise HTTPException(404, "this queue has no targets of its own")
    audit(db, username=principal.username, action="queue.targets_reset", object_type="queue",
          object_id=queue, client=client_ip(request))
    await db.commit()
    service.today.poke()
    return Response(status_code=204)


class QueueToday(BaseModel):
    queue: str
    offered: int
    answered: int
    abandoned: int
    abandoned_percent: float | None
    service_level: float | None = Field(description="% of offered calls answered within the "
                                                    "queue's service_level_seconds")
    asa: float | None = Field(description="average speed of answer, seconds")
    aht: float | None = Field(description="average handling (talk) time, seconds")


class AgentToday(BaseModel):
    agent: str
    calls: int
    missed: int = Field(description="rings not answered")
    aht: float | None


class AbandonedCall(BaseModel):
    linkedid: str
    number: str | None
    name: str | None
    queue: str | None
    at: datetime
    wait_seconds: float | None
    position: int | None
    callback_id: int | None
    callback_status: str | None = Field(description="open, done, or null: no callback")
    recovered: bool = Field(description="the caller got through on a later call")


class Today(BaseModel):
    since: datetime = Field(description="midnight in the site's time zone")
    queues: list[QueueToday]
    agents: list[AgentToday]
    abandoned: list[AbandonedCall]


@router.get("/supervisor/today", response_model=Today)
async def today(principal: Supervisor, db: DbDep, service: ServiceDep) -> Today:
    """Today's figures, from our own call records (what the console's tiles show)."""
    since = since_midnight(service.settings.time_zone)
    viewer = Viewer(principal.role)
    queues = await queue_figures(db, since, await all_targets(db))
    agents = await agent_figures(db, since)
    abandoned = await abandoned_today(db, since)
    return Today(
        since=since,
        queues=[QueueToday(queue=q, **asdict(f)) for q, f in sorted(queues.items())],
        agents=[AgentToday(agent=a, **asdict(f)) for a, f in sorted(agents.items())],
        abandoned=[AbandonedCall(**{**asdict(a), "number": show(a.number, PHONE, viewer),
                                    "name": show(a.name, NAME, viewer)}) for a in abandoned])


class CallbackMade(BaseModel):
    callback_id: int
    status: str
    created: bool


@router.post("/supervisor/abandoned/{linkedid}/callback", response_model=CallbackMade,
             responses=errors(404))
async def callback_for_abandoned(linkedid: Linkedid, principal: Supervisor, db: DbDep,
                                 service: ServiceDep, request: Request,
                                 response: Response) -> CallbackMade:
    """The abandoned call's callback (the service opens one by itself; this one click makes
    sure there is one, e.g. after it was closed). 201 when a new one was opened."""
    call = await db.scalar(select(Call).where(Call.linkedid == linkedid,
                                              Call.outcome == "abandoned"))
    if call is None or not call.caller:
        raise HTTPException(404, "no abandoned call with a caller's number under that linkedid")
    existing = await db.scalar(select(Callback).where(Callback.number == call.caller,
                                                      Callback.status == "open"))
    callback = existing or await request_callback(
        db, number=call.caller, queue=call.queue, source="abandoned",
        at=datetime.now(UTC), linkedid=call.linkedid, wait_seconds=call.wait_seconds)
    audit(db, username=principal.username, action="callback.from_abandoned",
          object_type="call", object_id=linkedid, client=client_ip(request),
          details=f"callback={callback.id}")
    await db.commit()
    service.today.poke()
    if existing is None:
        response.status_code = 201
    return CallbackMade(callback_id=callback.id, status=callback.status,
                        created=existing is None)


class Spy(BaseModel):
    mode: Literal["listen", "whisper", "barge"] = Field(
        description="listen (ChanSpy q), whisper to the agent (qw), barge in (qB)")


class SpyStarted(BaseModel):
    agent: str
    mode: str
    phone: str = Field(description="the supervisor's phone that rings")


@router.post("/agents/{username}/spy", response_model=SpyStarted, status_code=202,
             tags=["agents"], responses=errors(404, 409, 503))
async def spy(username: Username, body: Spy, principal: Supervisor, db: DbDep,
              service: ServiceDep, request: Request) -> SpyStarted:
    """Rings the supervisor's own phone (their user's interface); answered, it listens to,
    whispers to or barges into the agent's current call. Audited."""
    if not principal.interface:
        raise HTTPException(409, "your user has no phone: an admin sets its interface")
    user = await db.scalar(select(User).where(User.username == username))
    if user is None or not user.interface:
        raise HTTPException(404, "no agent with that username")
    member = service.live.members.get(user.interface)
    if member is None or not member.on_call or not member.channel:
        raise HTTPException(409, "the agent is not on a call")
    try:
        await service.ami.client.action({
            "Action": "Originate", "Channel": principal.interface,
            "Context": service.settings.spy_context, "Exten": body.mode, "Priority": 1,
            "Variable": f"CC_SPY_TARGET={member.channel}",
            "CallerID": f"{body.mode} {user.agent_name or username} <{body.mode}>",
            "Timeout": 30000, "Async": "true"})
    except AMIError as exc:
        raise HTTPException(503 if "connect" in str(exc) else 409, str(exc)) from None
    audit(db, username=principal.username, action=f"agent.{body.mode}", object_type="user",
          object_id=username, client=client_ip(request), details=f"call={member.on_call}")
    await db.commit()
    return SpyStarted(agent=user.agent_name or username, mode=body.mode,
                      phone=principal.interface)


class DisplayIn(BaseModel):
    name: DisplayName


class DisplayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class DisplayCreated(DisplayOut):
    token: str = Field(description="shown once; open /wallboard#token=<token> on the display")


@router.post("/admin/displays", response_model=DisplayCreated, status_code=201,
             tags=["admin"])
async def add_display(body: DisplayIn, principal: Admin, db: DbDep,
                      request: Request) -> DisplayCreated:
    """A token for a wall display: it reads the TV wallboard's feed and nothing else."""
    row, token = await create_display(db, body.name, principal.username)
    audit(db, username=principal.username, action="display.create", object_type="display",
          object_id=row.id, client=client_ip(request))
    await db.commit()
    return DisplayCreated(**DisplayOut.model_validate(row).model_dump(), token=token)


@router.get("/admin/displays", response_model=list[DisplayOut], tags=["admin"])
async def list_displays(principal: Admin, db: DbDep) -> list[Any]:
    return list(await db.scalars(select(DisplayToken).order_by(DisplayToken.id)))


@router.delete("/admin/displays/{display_id}", status_code=204, tags=["admin"],
               responses=errors(404))
async def remove_display(display_id: ObjectId, principal: Admin, db: DbDep,
                         service: ServiceDep, request: Request) -> Response:
    """Revokes the token: the display's socket is refused from its next connection."""
    row = await revoke_display(db, display_id)
    if row is None:
        raise HTTPException(404, "no such display")
    audit(db, username=principal.username, action="display.revoke", object_type="display",
          object_id=display_id, client=client_ip(request))
    await db.commit()
    service.queue_feed.close_display(display_id)
    return Response(status_code=204)
