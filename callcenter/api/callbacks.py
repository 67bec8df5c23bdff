"""Callbacks: who to call back, and starting one with a click."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, select

from callcenter.api.auth import Agent
from callcenter.api.calls import CallStarted, place_click_to_call
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.dispositions import agent_queues
from callcenter.api.errors import errors
from callcenter.api.fields import Limit, ObjectId, text
from callcenter.callbacks.models import Callback
from callcenter.contacts.card import number_for
from callcenter.policy import Viewer

router = APIRouter(prefix="/callbacks", tags=["callbacks"])
CallbackQueue = text(Callback.queue)


class CallbackOut(BaseModel):
    id: int
    number: str
    queue: str | None
    source: str
    requested_at: datetime
    wait_seconds: float | None
    status: str
    due_at: datetime | None = Field(None, description="scheduled at wrap-up: when to call")
    assignee: str | None = Field(None, description="the agent it is assigned to; None: the "
                                                   "team (whoever works its queue)")


@router.get("", response_model=list[CallbackOut])
async def list_callbacks(principal: Agent, db: DbDep, service: ServiceDep,
                         status: Literal["open", "done"] = "open",
                         queue: CallbackQueue | None = None,
                         assigned: Literal["any", "me", "mine_and_team"] = "any",
                         limit: Limit = 100) -> list[CallbackOut]:
    """Due first: by the time scheduled (`due_at`), else by when it was asked for, so
    overdue ones lead and the longest-waiting customer is called back first. `assigned=me`:
    the caller's own; `mine_and_team`: their own and the unassigned ones of the queues they
    work (logged in to, or took calls from lately)."""
    query = select(Callback).where(Callback.status == status).order_by(
        func.coalesce(Callback.due_at, Callback.requested_at), Callback.id)
    if queue:
        query = query.where(Callback.queue == queue)
    if assigned == "me":
        query = query.where(Callback.assignee == (principal.agent_name or ""))
    elif assigned == "mine_and_team":
        queues = await agent_queues(service, db, principal)
        query = query.where(or_(Callback.assignee == (principal.agent_name or ""),
                                and_(Callback.assignee.is_(None), Callback.queue.in_(queues))))
    viewer = Viewer(principal.role)
    return [CallbackOut(id=cb.id, number=number_for(viewer, cb.number) or "",
                        queue=cb.queue, source=cb.source, requested_at=cb.requested_at,
                        wait_seconds=cb.wait_seconds, status=cb.status, due_at=cb.due_at,
                        assignee=cb.assignee)
            for cb in await db.scalars(query.limit(limit))]


@router.post("/{callback_id}/start", response_model=CallStarted, status_code=202,
             responses=errors(404, 409, 503))
async def start_callback(callback_id: ObjectId, principal: Agent, db: DbDep,
                         service: ServiceDep) -> CallStarted:
    """Click-to-call to the callback's number; the callback closes when the call connects."""
    callback = await db.get(Callback, callback_id)
    if callback is None or callback.status != "open":
        raise HTTPException(404, "no open callback with that id")
    return CallStarted(call_id=await place_click_to_call(service, principal, callback.number,
                                                         loc=None))
