"""Agent state: log in to queues, log out, pause with a reason, unpause (QueueAdd/Remove/Pause).

Agents act on themselves; supervisors on any agent by username."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from callcenter.ami.client import AMIError
from callcenter.api.auth import Agent, Principal, Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.service import Service
from callcenter.users.models import User

router = APIRouter(prefix="/agents", tags=["agents"])


class StateChange(BaseModel):
    action: Literal["login", "logout", "pause", "unpause"]
    queues: list[str] = Field(default_factory=list, description="login/logout; empty: all")
    reason: str | None = Field(None, max_length=80, pattern=r"^[^\r\n]*$")


class StateResult(BaseModel):
    agent: str
    action: str
    queues: list[str]


async def _change(service: Service, target: Principal, change: StateChange) -> StateResult:
    if not target.interface or not target.agent_name:
        raise HTTPException(409, "this user has no agent phone")
    ami = service.ami.client
    queues = change.queues or await _member_queues(service, target.interface, change.action)
    try:
        for queue in queues:
            if change.action == "login":
                await ami.action({"Action": "QueueAdd", "Queue": queue,
                                  "Interface": target.interface,
                                  "MemberName": target.agent_name})
            elif change.action == "logout":
                await ami.action({"Action": "QueueRemove", "Queue": queue,
                                  "Interface": target.interface})
        if change.action in ("pause", "unpause"):
            fields: dict[str, object] = {"Action": "QueuePause", "Interface": target.interface,
                                         "Paused": change.action == "pause"}
            if change.reason:
                fields["Reason"] = change.reason
            if change.queues:
                for queue in change.queues:
                    await ami.action({**fields, "Queue": queue})
            else:
                await ami.action(fields)
    except AMIError as exc:
        raise HTTPException(503 if "connect" in str(exc) else 409, str(exc)) from None
    return StateResult(agent=target.agent_name, action=change.action, queues=queues)


async def _member_queues(service: Service, interface: str, action: str) -> list[str]:
    if action == "login":
        raise HTTPException(422, "name the queues to log in to")
    if action != "logout":
        return []
    members = await service.ami.client.action_list({"Action": "QueueStatus"})
    return sorted({m["Queue"] for m in members
                   if m.get("Event") == "QueueMember" and m.get("Location") == interface})


@router.post("/me", response_model=StateResult)
async def change_my_state(change: StateChange, principal: Agent,
                          service: ServiceDep) -> StateResult:
    return await _change(service, principal, change)


@router.post("/{username}", response_model=StateResult)
async def change_agent_state(username: str, change: StateChange, principal: Supervisor,
                             service: ServiceDep, db: DbDep) -> StateResult:
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(404, "no such user")
    return await _change(service, Principal.of(user), change)
