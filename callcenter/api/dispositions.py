"""Dispositions and wrap-up: admins keep each queue's list and policy; the agent who was on a
call saves its wrap-up (disposition, note, callback), shown on the call record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from callcenter.api.auth import Admin, Agent, Principal, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import Problem, errors, invalid
from callcenter.api.fields import ObjectId, Timestamp, multiline, text
from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.dispositions.models import DEFAULT_KEY, CallWrapup, Disposition, WrapupPolicy
from callcenter.dispositions.service import (
    CallbackRequest,
    CallNotFound,
    DispositionConflict,
    WrapupError,
    agent_call,
    check_disposition,
    get_policy,
    list_dispositions,
    save_wrapup,
    scope_of,
)
from callcenter.service import Service

router = APIRouter(tags=["dispositions"])

Scope = Literal["queue", "project"]
# a queue name as queues.conf takes it, a project id, or "*" (the default list)
ScopeKey = text(Disposition.scope_key, pattern=r"^(\*|[A-Za-z0-9_.\-]+)$", min_length=1)
Code = text(Disposition.code, pattern=r"^[A-Za-z0-9_.\-]+$", min_length=1)
Label = text(Disposition.label, min_length=1)
Note = multiline(CallWrapup.note)
Linkedid = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f/]+$")]
Hotkey = Annotated[int, Field(ge=1, le=9)]
Minutes = Annotated[int, Field(ge=0, le=525_600)]  # a year
Position = Annotated[int, Field(ge=0, le=10_000)]
AGENT_QUEUE_HISTORY = timedelta(days=30)


class DispositionIn(BaseModel):
    scope: Scope = "queue"
    scope_key: ScopeKey = Field(description='queue name, project id, or "*": the list of '
                                            'calls without a queue and of queues without '
                                            'their own')
    code: Code
    label: Label
    hotkey: Hotkey | None = Field(None, description="1-9, unique among the list's active "
                                                    "dispositions")
    is_success: bool = False
    closes_number: bool = Field(False, description="no further attempts at that number")
    retry_after_minutes: Minutes | None = None
    position: Position = 0
    active: bool = True


class DispositionPatch(BaseModel):
    """Only the fields sent change; the list (scope, key) never does."""

    code: Code | None = None
    label: Label | None = None
    hotkey: Hotkey | None = None
    is_success: bool | None = None
    closes_number: bool | None = None
    retry_after_minutes: Minutes | None = None
    position: Position | None = None
    active: bool | None = None

    @field_validator("code", "label", "is_success", "closes_number", "position", "active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null: leave it out to keep it")
        return value


class DispositionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    scope: str
    scope_key: str
    code: str
    label: str
    hotkey: int | None
    is_success: bool
    closes_number: bool
    retry_after_minutes: int | None
    position: int
    active: bool


class PolicyIn(BaseModel):
    required: bool = Field(False, description="a disposition must be given")
    seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        0, description="wrap-up time after each call, shown as a countdown; 0: none")


class PolicyOut(PolicyIn):
    model_config = ConfigDict(from_attributes=True)
    scope: str
    scope_key: str


class DispositionList(BaseModel):
    scope: str
    scope_key: str
    dispositions: list[DispositionOut]
    policy: PolicyOut


def _conflict(exc: DispositionConflict) -> HTTPException:
    return HTTPException(409, str(exc))


async def agent_queues(service: Service, db: DbDep, principal: Principal) -> set[str]:
    """Queues an agent works: logged in to now, or took calls from lately."""
    member = service.live.members.get(principal.interface or "")
    queues = set(member.queues) if member else set()
    since = datetime.now(UTC) - AGENT_QUEUE_HISTORY
    queues.update(q for q in await db.scalars(
        select(Call.queue).where(Call.agent == principal.agent_name, Call.started_at >= since,
                                 Call.queue.is_not(None)).distinct()) if q)
    return queues


@router.get("/dispositions", response_model=DispositionList,
            responses={403: {"model": Problem, "description": "(agents) not one of your "
                                                            "queues"}})
async def read_list(principal: Agent, db: DbDep, service: ServiceDep, key: ScopeKey,
                    scope: Scope = "queue") -> DispositionList:
    """The active dispositions of a queue (or project) in display order, hotkeys included,
    with its wrap-up policy. Agents: the queues they work (logged in to, or took calls from
    in the last 30 days) and the default list "*"."""
    if (principal.is_agent and scope == "queue" and key != DEFAULT_KEY
            and key not in await agent_queues(service, db, principal)):
        raise HTTPException(403, "not one of your queues")
    dispositions = await list_dispositions(db, scope, key)
    policy = await get_policy(db, scope, key)
    return DispositionList(scope=scope, scope_key=key,
                           dispositions=[DispositionOut.model_validate(d) for d in dispositions],
                           policy=PolicyOut(scope=scope, scope_key=key, required=policy.required,
                                            seconds=policy.seconds))


@router.get("/admin/dispositions", response_model=list[DispositionOut])
async def admin_list(principal: Admin, db: DbDep, scope: Scope | None = None,
                     key: ScopeKey | None = None) -> list[Disposition]:
    """Every disposition, inactive ones too, by list and position."""
    query = select(Disposition).order_by(Disposition.scope, Disposition.scope_key,
                                         Disposition.position, Disposition.id)
    if scope:
        query = query.where(Disposition.scope == scope)
    if key:
        query = query.where(Disposition.scope_key == key)
    return list(await db.scalars(query))


@router.post("/admin/dispositions", response_model=DispositionOut, status_code=201,
             responses=errors(409))
async def create_disposition(body: DispositionIn, principal: Admin, db: DbDep,
                             request: Request) -> Disposition:
    disposition = Disposition(**body.model_dump())
    try:
        await check_disposition(db, disposition)
    except DispositionConflict as exc:
        raise _conflict(exc) from None
    db.add(disposition)
    await db.flush()
    audit(db, username=principal.username, action="disposition.create",
          object_type="disposition", object_id=disposition.id, client=client_ip(request),
          details=f"{disposition.scope}:{disposition.scope_key}:{disposition.code}")
    await db.commit()
    return disposition


async def _disposition(db: DbDep, disposition_id: int) -> Disposition:
    disposition = await db.get(Disposition, disposition_id)
    if disposition is None:
        raise HTTPException(404, "no such disposition")
    return disposition


@router.patch("/admin/dispositions/{disposition_id}", response_model=DispositionOut,
              responses=errors(404, 409))
async def update_disposition(disposition_id: ObjectId, body: DispositionPatch, principal: Admin,
                             db: DbDep, request: Request) -> Disposition:
    """Wrap-ups already saved keep the code they were saved with."""
    disposition = await _disposition(db, disposition_id)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        setattr(disposition, name, value)
    try:
        await check_disposition(db, disposition)
    except DispositionConflict as exc:
        await db.rollback()
        raise _conflict(exc) from None
    audit(db, username=principal.username, action="disposition.update",
          object_type="disposition", object_id=disposition_id, client=client_ip(request),
          details=",".join(sorted(changes)))
    await db.commit()
    return disposition


@router.delete("/admin/dispositions/{disposition_id}", status_code=204, responses=errors(404))
async def delete_disposition(disposition_id: ObjectId, principal: Admin, db: DbDep,
                             request: Request) -> None:
    """Gone from the list; calls wrapped up with it keep their code (deactivate to hide it
    and keep its label)."""
    disposition = await _disposition(db, disposition_id)
    await db.delete(disposition)
    audit(db, username=principal.username, action="disposition.delete",
          object_type="disposition", object_id=disposition_id, client=client_ip(request),
          details=f"{disposition.scope}:{disposition.scope_key}:{disposition.code}")
    await db.commit()


@router.get("/admin/wrapup-policies", response_model=list[PolicyOut])
async def list_policies(principal: Admin, db: DbDep) -> list[WrapupPolicy]:
    return list(await db.scalars(select(WrapupPolicy).order_by(WrapupPolicy.scope,
                                                               WrapupPolicy.scope_key)))


@router.put("/admin/wrapup-policies/{scope}/{key}", response_model=PolicyOut)
async def set_policy(scope: Scope, key: Annotated[str, Path(
        min_length=1, max_length=80, pattern=r"^(\*|[A-Za-z0-9_.\-]+)$")],
                     body: PolicyIn, principal: Admin, db: DbDep,
                     request: Request) -> WrapupPolicy:
    """Whether the queue's calls need a disposition, and its wrap-up time."""
    policy = await db.get(WrapupPolicy, (scope, key))
    if policy is None:
        policy = WrapupPolicy(scope=scope, scope_key=key)
        db.add(policy)
    policy.required, policy.seconds = body.required, body.seconds
    audit(db, username=principal.username, action="wrapup_policy.set",
          object_type=f"wrapup_policy.{scope}", object_id=key, client=client_ip(request),
          details=f"required={body.required} seconds={body.seconds}")
    await db.commit()
    return policy


# -- a call's wrap-up ------------------------------------------------------------------------

class CallbackIn(BaseModel):
    when: Timestamp = Field(description="when to call back (in the future)")
    assignee: Literal["mine", "team"] = Field(
        "mine", description="mine: this agent's; team: whoever works the call's queue")


class WrapupIn(BaseModel):
    code: Code | None = Field(None, description="a disposition of the call's list")
    note: Note | None = Field(None, description="free text: no phone numbers or e-mails")
    callback: CallbackIn | None = None


class WrapupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    linkedid: str
    agent: str
    disposition_code: str | None
    note: str | None
    callback_id: int | None
    saved_at: datetime


class WrapupForm(BaseModel):
    """What the desktop needs to wrap a call up: the list, the policy, what is saved."""

    linkedid: str
    queue: str | None
    ended_at: datetime | None
    seconds_left: float | None = Field(
        description="of the queue's wrap-up time, on the server's clock (None: no wrap-up "
                    "time); the desktop counts down from it")
    dispositions: list[DispositionOut]
    policy: PolicyOut
    wrapup: WrapupOut | None


NOT_YOURS = {404: {"model": Problem, "description": "no such call, or not one this user was "
                                                    "the agent on"}}


@router.get("/calls/{linkedid}/wrapup", response_model=WrapupForm, responses=NOT_YOURS)
async def wrapup_form(linkedid: Linkedid, principal: Agent, db: DbDep) -> WrapupForm:
    """Only the agent who was on the call: its queue's dispositions, policy and any saved
    wrap-up. 404 also while the call's record is not written yet (moments after hang-up)."""
    try:
        call = await agent_call(db, linkedid, principal.agent_name)
    except CallNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    scope, key = await scope_of(db, call)
    policy = await get_policy(db, scope, key)
    saved = await db.scalar(select(CallWrapup).where(CallWrapup.linkedid == linkedid))
    left = None
    if policy.seconds:
        ended = call.ended_at or datetime.now(UTC)
        left = round(max(0.0, policy.seconds - (datetime.now(UTC) - ended).total_seconds()), 1)
    return WrapupForm(
        linkedid=linkedid, queue=call.queue, ended_at=call.ended_at, seconds_left=left,
        dispositions=[DispositionOut.model_validate(d)
                      for d in await list_dispositions(db, scope, key)],
        policy=PolicyOut(scope=scope, scope_key=key, required=policy.required,
                         seconds=policy.seconds),
        wrapup=WrapupOut.model_validate(saved) if saved else None)


@router.post("/calls/{linkedid}/wrapup", response_model=WrapupOut, responses=NOT_YOURS)
async def post_wrapup(linkedid: Linkedid, body: WrapupIn, principal: Agent, db: DbDep,
                      request: Request, svc: ServiceDep) -> CallWrapup:
    """Saves (or replaces: one per call) the wrap-up of a call this agent was on: a
    disposition from the call's list (its queue's, or its outbound project's), a note, and
    optionally a callback. For a project call the disposition is also the attempt's result:
    the number is closed or scheduled again by the project's rules, a callback being the
    next attempt at that time (no separate queue callback). Audited without the note's
    text."""
    previous = (await db.execute(select(CallWrapup.id, CallWrapup.note)
                                 .where(CallWrapup.linkedid == linkedid))).first()
    callback = (CallbackRequest(when=body.callback.when, assignee=body.callback.assignee)
                if body.callback else None)
    try:
        wrapup = await save_wrapup(db, linkedid=linkedid, agent=principal.agent_name,
                                   code=body.code, note=body.note, callback=callback,
                                   now=svc.dialler.clock())
    except CallNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except WrapupError as exc:
        raise invalid(("body", *(exc.field or "code").split(".")), str(exc)) from None
    new = previous is None
    old_note = previous.note if previous else None
    if new:
        note_change = "set" if wrapup.note else "none"
    else:
        note_change = ("unchanged" if old_note == wrapup.note
                       else "cleared" if wrapup.note is None else "changed")
    audit(db, username=principal.username, action="wrapup.save" if new else "wrapup.update",
          object_type="call", object_id=linkedid, client=client_ip(request),
          details=f"code={wrapup.disposition_code or '-'} note={note_change}"
                  + (f" callback={wrapup.callback_id}" if callback else ""))
    # an outbox event for the saved disposition belongs here, in this same transaction
    await db.commit()
    svc.dialler.wake()  # a project agent's wrap-up ends: they may take the next number
    return wrapup
