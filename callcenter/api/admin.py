"""Administration: users and their tokens, card field kinds (the data policy), the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callcenter.agents.pause_reasons import PauseReason, set_pause_reasons
from callcenter.agents.pause_reasons import configured as configured_pause_reasons
from callcenter.api.auth import Admin, Principal, Supervisor, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import Limit, ObjectId, Offset, Timestamp, ami, interface, text
from callcenter.audit.log import audit
from callcenter.audit.models import AuditEntry
from callcenter.contacts.lookup import field_rules
from callcenter.contacts.models import CardField
from callcenter.limits import PLAIN_TEXT, USERNAME
from callcenter.policy import BUILT_IN, NOTES, Kind
from callcenter.users.models import User
from callcenter.users.service import (
    create_token,
    create_user,
    revoke_tokens,
    set_active,
    set_password,
)

router = APIRouter(tags=["admin"])
Username = text(User.username, pattern=USERNAME, min_length=1)
Password = text(1000, pattern=PLAIN_TEXT, min_length=8)
AgentName = ami(User.agent_name)
Interface = interface(User.interface)
CallerId = ami(User.outbound_callerid)
FieldName = text(CardField.name, min_length=1)
AuditUser = text(AuditEntry.username)
AuditAction = text(AuditEntry.action)
AuditObject = text(AuditEntry.object_type)


class NewUser(BaseModel):
    username: Username
    role: Literal["agent", "supervisor", "admin"]
    password: Password | None = None
    agent_name: AgentName | None = Field(None, description="the queue member name (agents)")
    interface: Interface | None = Field(None, description="e.g. PJSIP/1001 (agents)")
    outbound_callerid: CallerId | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    agent_name: str | None
    interface: str | None
    outbound_callerid: str | None = None
    active: bool


class UserCreated(UserOut):
    token: str = Field(description="shown once; only its hash is kept")


@router.post("/users", response_model=UserCreated, status_code=201, responses=errors(409))
async def add_user(body: NewUser, principal: Admin, db: DbDep, request: Request) -> UserCreated:
    try:
        user = await create_user(db, **body.model_dump())
        token = await create_token(db, user)
        audit(db, username=principal.username, action="user.create", object_type="user",
              object_id=user.id, client=client_ip(request), details=f"role={user.role}")
        await db.commit()
    except IntegrityError:
        raise HTTPException(409, "username, agent name or interface already taken") from None
    return UserCreated(**UserOut.model_validate(user).model_dump(), token=token)


@router.get("/users", response_model=list[UserOut])
async def list_users(principal: Admin, db: DbDep) -> list[User]:
    return list(await db.scalars(select(User).order_by(User.username)))


class TokenOut(BaseModel):
    token: str


@router.post("/users/{user_id}/tokens", response_model=TokenOut, status_code=201,
             responses=errors(404))
async def add_token(user_id: ObjectId, principal: Admin, db: DbDep, request: Request,
                    days: Annotated[int | None, Query(ge=1, le=3650)] = None) -> TokenOut:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    token = await create_token(db, user, ttl=timedelta(days=days) if days else None)
    audit(db, username=principal.username, action="token.create", object_type="user",
          object_id=user_id, client=client_ip(request))
    await db.commit()
    return TokenOut(token=token)


async def _user(db: DbDep, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    return user


async def _changed(service: ServiceDep, db: DbDep, principal: Principal, request: Request,
                   action: str, user: User, details: str | None = None) -> None:
    """Audited and committed; the token cache forgets everyone, so it takes effect at once
    in this process (other processes: within its 10 s)."""
    audit(db, username=principal.username, action=action, object_type="user",
          object_id=user.id, client=client_ip(request), details=details)
    await db.commit()
    service.principals.clear()


class Active(BaseModel):
    active: bool


@router.put("/users/{user_id}/active", response_model=UserOut, responses=errors(404))
async def set_user_active(user_id: ObjectId, body: Active, principal: Admin, db: DbDep,
                          service: ServiceDep, request: Request) -> User:
    """Deactivating refuses the user's tokens at once and closes their open WebSockets within
    ws_recheck_seconds; reactivating restores their API tokens."""
    user = await _user(db, user_id)
    set_active(user, body.active)
    await _changed(service, db, principal, request,
                   "user.activate" if body.active else "user.deactivate", user)
    return user


class NewPassword(BaseModel):
    password: Password


@router.put("/users/{user_id}/password", status_code=204, responses=errors(404))
async def reset_password(user_id: ObjectId, body: NewPassword, principal: Admin, db: DbDep,
                         service: ServiceDep, request: Request) -> None:
    """Sets a new password; login tokens made with the old one stop working."""
    user = await _user(db, user_id)
    await set_password(db, user, body.password)
    await _changed(service, db, principal, request, "user.password_reset", user)


class Revoked(BaseModel):
    api_tokens_deleted: int


@router.delete("/users/{user_id}/tokens", response_model=Revoked, responses=errors(404))
async def revoke_user_tokens(user_id: ObjectId, principal: Admin, db: DbDep, service: ServiceDep,
                             request: Request) -> Revoked:
    """Every API token deleted, every login token and WebSocket ticket void; the user's open
    WebSockets close within ws_recheck_seconds."""
    user = await _user(db, user_id)
    deleted = await revoke_tokens(db, user)
    await _changed(service, db, principal, request, "token.revoke", user,
                   details=f"api_tokens={deleted}")
    return Revoked(api_tokens_deleted=deleted)


class AgentSettings(BaseModel):
    agent_name: AgentName | None = Field(None, description="the queue member name; null: "
                                                           "not an agent phone user")
    interface: Interface | None = Field(None, description="the agent's phone, e.g. "
                                                          "PJSIP/1001 or Local/2001@agents/n")
    outbound_callerid: CallerId | None = None


@router.put("/users/{user_id}/agent", response_model=UserOut, responses=errors(404, 409))
async def set_agent_settings(user_id: ObjectId, body: AgentSettings, principal: Admin,
                             db: DbDep, service: ServiceDep, request: Request) -> User:
    """The user's agent interface: queue member name, phone, outbound caller ID (the admin
    page "Agent interfaces"). Takes effect at the user's next request."""
    user = await _user(db, user_id)
    user.agent_name, user.interface = body.agent_name, body.interface
    user.outbound_callerid = body.outbound_callerid
    try:
        await _changed(service, db, principal, request, "user.agent", user,
                       details=f"agent={body.agent_name or '-'} "
                               f"interface={body.interface or '-'}")
    except IntegrityError:
        raise HTTPException(409, "agent name or interface already taken") from None
    return user


PauseCode = ami(PauseReason.code)


class PauseReasons(BaseModel):
    reasons: Annotated[list[PauseCode], Field(max_length=50)] = Field(
        description="in the order agents see them; empty: back to the pause_reasons setting")
    configured: bool = Field(False, description="read only: true when the list is the "
                                                "administrators' (false: the setting's)")


@router.get("/admin/pause-reasons", response_model=PauseReasons)
async def get_pause_reasons(principal: Admin, db: DbDep, service: ServiceDep) -> PauseReasons:
    """The reasons agents pause with."""
    listed = await configured_pause_reasons(db)
    return PauseReasons(reasons=listed or service.settings.pause_reasons,
                        configured=listed is not None)


@router.put("/admin/pause-reasons", response_model=PauseReasons)
async def put_pause_reasons(body: PauseReasons, principal: Admin, db: DbDep,
                            service: ServiceDep, request: Request) -> PauseReasons:
    """Replaces the list (agents see it at their next status read)."""
    seen: set[str] = set()
    for index, code in enumerate(body.reasons):
        if code in seen:
            raise invalid(("body", "reasons", index), f"{code}: listed twice")
        seen.add(code)
    await set_pause_reasons(db, body.reasons)
    audit(db, username=principal.username, action="pause_reasons.set",
          object_type="pause_reasons", client=client_ip(request),
          details=",".join(body.reasons)[:2000])
    await db.commit()
    service.today.poke()  # the supervisors' pause menus
    return await get_pause_reasons(principal, db, service)


class FieldDeclaration(BaseModel):
    kind: Kind
    agent_visible: bool = Field(False, description="agents may see it, as far as its kind "
                                                   "allows: e-mail, address and identity "
                                                   "document never, phone masked")


class CardFields(BaseModel):
    fields: Annotated[dict[FieldName, FieldDeclaration], Field(max_length=500)] = Field(
        default_factory=dict, description="custom card fields (Contact.fields) by name; a "
                                          "field not declared here is hidden from agents")
    notes_agent_visible: bool = Field(False, description="agents see the contact's notes "
                                                         "(free text)")


@router.get("/admin/card-fields", response_model=CardFields)
async def get_card_fields(principal: Admin, db: DbDep) -> CardFields:
    rules = await field_rules(db)
    notes = rules.pop(NOTES, BUILT_IN[NOTES])
    return CardFields(
        fields={name: FieldDeclaration(kind=rule.kind, agent_visible=rule.agent_visible)
                for name, rule in sorted(rules.items()) if rule.kind is not None},
        notes_agent_visible=notes.agent_visible)


@router.put("/admin/card-fields", response_model=CardFields)
async def set_card_fields(body: CardFields, principal: Admin, db: DbDep,
                          request: Request) -> CardFields:
    """Declares the kind of each custom card field, replacing earlier declarations: the kind,
    not the name, decides what agents see (README, "Personal data policy")."""
    builtin = sorted(set(body.fields) & set(BUILT_IN))
    if builtin:
        raise HTTPException(422, [{"loc": ["body", "fields", name], "type": "value_error",
                                   "msg": f"{name}: a built-in field, its kind is fixed"}
                                  for name in builtin])
    for field in await db.scalars(select(CardField)):
        await db.delete(field)
    await db.flush()
    for name, declared in sorted(body.fields.items()):
        db.add(CardField(name=name, kind=declared.kind.value,
                         agent_visible=declared.agent_visible))
    db.add(CardField(name=NOTES, kind=Kind.FREE_TEXT.value,
                     agent_visible=body.notes_agent_visible))
    audit(db, username=principal.username, action="card_fields.set", object_type="card_fields",
          client=client_ip(request),
          details=",".join([f"{name}={d.kind.value}{'+agent' if d.agent_visible else ''}"
                            for name, d in sorted(body.fields.items())]
                           + [f"notes=free_text{'+agent' if body.notes_agent_visible else ''}"]))
    await db.commit()
    return body


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    username: str
    action: str
    object_type: str
    object_id: str | None
    client: str | None
    details: str | None


@router.get("/audit", response_model=list[AuditOut])
async def audit_log(principal: Supervisor, db: DbDep,
                    username: AuditUser | None = None, action: AuditAction | None = None,
                    object_type: AuditObject | None = None,
                    since: Timestamp | None = None, until: Timestamp | None = None,
                    limit: Limit = 100, offset: Offset = 0) -> list[AuditEntry]:
    """Newest first; `until` is exclusive."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if until:
        query = query.where(AuditEntry.at < until)
    if username:
        query = query.where(AuditEntry.username == username)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    return list(await db.scalars(query.limit(limit).offset(offset)))
