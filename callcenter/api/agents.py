"""Agent state: log in to queues, log out, pause with a reason, unpause (QueueAdd/Remove/Pause).

Agents act on themselves; supervisors on any agent by username."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from callcenter.agents.models import AgentStateChange
from callcenter.agents.today import agent_today, start_of_day
from callcenter.ami.client import AMIError
from callcenter.api.auth import Agent, Principal, Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import ami, queue_name, text
from callcenter.limits import USERNAME
from callcenter.service import Service
from callcenter.users.models import User

router = APIRouter(prefix="/agents", tags=["agents"])
QueueName = queue_name(AgentStateChange.queue)
Reason = ami(AgentStateChange.reason)
Username = text(User.username, pattern=USERNAME, min_length=1)


class StateChange(BaseModel):
    action: Literal["login", "logout", "pause", "unpause"]
    queues: list[QueueName] = Field(default_factory=list, max_length=100,
                                    description="login/logout; empty: all")
    reason: Reason | None = None

    @model_validator(mode="after")
    def _login_names_queues(self) -> StateChange:
        if self.action == "login" and not self.queues:
            raise ValueError("name the queues to log in to")
        return self


class StateResult(BaseModel):
    agent: str
    action: str
    queues: list[str]


async def _change(service: Service, target: Principal, change: StateChange) -> StateResult:
    if not target.interface or not target.agent_name:
        raise HTTPException(409, "this user has no agent phone")
    ami = service.ami.client
    try:
        queues = change.queues or await _member_queues(service, target.interface, change.action)
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
    except ValueError as exc:  # stored before values for Asterisk were checked
        raise HTTPException(409, f"this user's agent settings cannot be sent to Asterisk "
                                 f"({exc}): correct the user") from None
    return StateResult(agent=target.agent_name, action=change.action, queues=queues)


async def _member_queues(service: Service, interface: str, action: str) -> list[str]:
    if action != "logout":
        return []
    members = await service.ami.client.action_list({"Action": "QueueStatus"})
    return sorted({m["Queue"] for m in members
                   if m.get("Event") == "QueueMember" and m.get("Location") == interface})


STATE_ERRORS = errors(409, 503)


class MyState(BaseModel):
    """The agent's own live state, as the AMI listener follows it."""

    agent: str | None
    queues: list[str] = Field(description="queues logged in to")
    paused: bool
    paused_reason: str | None
    ringing: bool
    on_call: bool
    pause_reasons: list[str] = Field(description="the reasons to pause with (configured)")
    state_seconds: float | None = Field(None, description="time in the current state, on the "
                                                          "server's clock (None: not known)")


@router.get("/me", response_model=MyState, responses=errors(503))
async def my_state(principal: Agent, service: ServiceDep) -> MyState:
    """For the agent desktop's status bar: no queues means logged out."""
    if not service.ami.connected:
        raise HTTPException(503, "not connected to Asterisk: the live state is not current")
    member = service.live.members.get(principal.interface or "")
    reasons = service.settings.pause_reasons
    if member is None:
        return MyState(agent=principal.agent_name, queues=[], paused=False, paused_reason=None,
                       ringing=False, on_call=False, pause_reasons=reasons)
    now = time.time()
    return MyState(agent=principal.agent_name, queues=sorted(member.queues),
                   paused=member.paused, paused_reason=member.paused_reason,
                   ringing=member.ringing_for is not None, on_call=member.on_call is not None,
                   pause_reasons=reasons,
                   state_seconds=round(now - member.state_since, 1)
                   if member.state_since else None)


class WaitingIn(BaseModel):
    queue: str
    waiting: int
    longest_wait_seconds: float | None


class MyDay(BaseModel):
    """The agent's day so far (since midnight in the site's time zone)."""

    since: datetime
    calls: int = Field(description="calls taken (as the agent on them)")
    answered: int
    talk_seconds: float
    average_handling_seconds: float | None = Field(
        description="average talk time of today's answered calls")
    pause_seconds: dict[str, float] = Field(description='seconds paused by reason ("": none '
                                                        "given)")
    waiting: list[WaitingIn] | None = Field(
        description="callers waiting now in the agent's queues (None: not connected to "
                    "Asterisk, so not known)")


@router.get("/me/today", response_model=MyDay, responses=errors(409))
async def my_day(principal: Agent, service: ServiceDep, db: DbDep) -> MyDay:
    """For the desktop's today panel: from the call records and state history, and the live
    queues for who waits."""
    if not principal.agent_name:
        raise HTTPException(409, "this user has no agent phone")
    now = datetime.now(UTC)
    since = start_of_day(now, service.settings.time_zone)
    today = await agent_today(db, principal.agent_name, since, now)
    waiting = None
    if service.ami.connected:
        member = service.live.members.get(principal.interface or "")
        waiting = []
        clock = time.time()
        for name in sorted(member.queues if member else ()):
            queue = service.live.queues.get(name)
            callers = list(queue.callers.values()) if queue else []
            waiting.append(WaitingIn(queue=name, waiting=len(callers), longest_wait_seconds=(
                round(clock - min(c.joined_at for c in callers), 1) if callers else None)))
    return MyDay(since=since, calls=today.calls, answered=today.answered,
                 talk_seconds=today.talk_seconds,
                 average_handling_seconds=today.average_handling_seconds,
                 pause_seconds=today.pause_seconds, waiting=waiting)


@router.post("/me", response_model=StateResult, responses=STATE_ERRORS)
async def change_my_state(change: StateChange, principal: Agent,
                          service: ServiceDep) -> StateResult:
    """An agent pausing names one of the configured `pause_reasons` (when there are any)."""
    reasons = service.settings.pause_reasons
    if change.action == "pause" and reasons and change.reason not in reasons:
        raise invalid(("body", "reason"), f"pausing needs a reason, one of: {', '.join(reasons)}")
    return await _change(service, principal, change)


@router.post("/{username}", response_model=StateResult,
             responses={**STATE_ERRORS, **errors(404)})
async def change_agent_state(username: Username, change: StateChange, principal: Supervisor,
                             service: ServiceDep, db: DbDep) -> StateResult:
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(404, "no such user")
    return await _change(service, Principal.of(user), change)
