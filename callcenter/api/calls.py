"""Calls: search and CSV export for supervisors (agents: their own), click-to-call."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select

from callcenter.ami.client import AMIError
from callcenter.api.auth import Agent, Principal
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import Limit, Offset, PhoneInput, Timestamp, text
from callcenter.calls.clicktocall import click_to_call
from callcenter.calls.models import Call
from callcenter.contacts.card import number_for
from callcenter.dispositions.models import CallWrapup
from callcenter.dispositions.service import shown_note, wrapups_for
from callcenter.phone import dialable, to_e164
from callcenter.policy import NAME, Viewer, show
from callcenter.recordings.models import Recording
from callcenter.service import Service

log = logging.getLogger(__name__)
router = APIRouter(tags=["calls"])

CSV_COLUMNS = ["linkedid", "direction", "caller", "called", "started_at", "queue",
               "answered_at", "ended_at", "agent", "wait_seconds", "talk_seconds", "outcome",
               "abandon_position", "hangup_by", "transfer_target", "ivr_path",
               "disposition", "note"]


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    format: str
    duration_seconds: float | None
    size_bytes: int | None


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    linkedid: str
    direction: str
    caller: str | None
    caller_name: str | None
    called: str | None
    started_at: datetime
    queue: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    agent: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    outcome: str
    abandon_position: int | None
    hangup_by: str | None
    transfer_target: str | None
    ivr_path: str | None
    vip: bool
    end_inferred: bool
    recordings: list[RecordingOut] = []
    disposition: str | None = Field(None, description="the wrap-up's disposition code")
    note: str | None = Field(None, description="the wrap-up note (agents: their own calls')")


def _query(principal: Principal, region: str, since: datetime | None, until: datetime | None,
           number: str | None, agent: str | None, queue: str | None, outcome: str | None,
           linkedid: str | None, min_talk: float | None, max_talk: float | None) -> Select:
    query = select(Call).order_by(Call.started_at.desc(), Call.id.desc())
    if principal.is_agent:  # agents see only calls of their own
        query = query.where(Call.agent == principal.agent_name)
    if since:
        query = query.where(Call.started_at >= since)
    if until:
        query = query.where(Call.started_at < until)
    if number:
        e164 = to_e164(number, region)
        if e164 is None:
            raise invalid(("query", "number"), "not a phone number")
        query = query.where(or_(Call.caller == e164, Call.called == e164))
    for column, value in ((Call.agent, agent), (Call.queue, queue), (Call.outcome, outcome),
                          (Call.linkedid, linkedid)):
        if value:
            query = query.where(column == value)
    if min_talk is not None:
        query = query.where(Call.talk_seconds >= min_talk)
    if max_talk is not None:
        query = query.where(Call.talk_seconds <= max_talk)
    return query


def _shown(call: Call, principal: Principal) -> dict[str, object]:
    """The call's personal values as the data policy lets this principal see them."""
    viewer = Viewer(principal.role)
    return {"caller": number_for(viewer, call.caller),
            "called": number_for(viewer, call.called),
            "transfer_target": number_for(viewer, call.transfer_target),
            "caller_name": show(call.caller_name, NAME, viewer)}


AgentName = text(Call.agent)
QueueName = text(Call.queue)
Outcome = text(Call.outcome)
Linkedid = text(Call.linkedid)
Seconds = Annotated[float | None, Query(ge=0, le=10**9, allow_inf_nan=False)]


@router.get("/calls", response_model=None,
            responses={200: {"model": list[CallOut], "content": {"text/csv": {}}}})
async def search_calls(
    db: DbDep, service: ServiceDep, principal: Agent,
    since: Timestamp | None = None, until: Timestamp | None = None,
    number: PhoneInput | None = None, agent: AgentName | None = None,
    queue: QueueName | None = None, outcome: Outcome | None = None,
    linkedid: Linkedid | None = None, min_talk: Seconds = None, max_talk: Seconds = None,
    limit: Limit = 100, offset: Offset = 0,
    format: Literal["json", "csv"] = "json",
) -> list[CallOut] | StreamingResponse:
    """Newest first. `format=csv` streams every match row by row (no limit); if the export
    fails midway, its last line says so (the status is already sent)."""
    query = _query(principal, service.settings.default_region, since, until, number, agent,
                   queue, outcome, linkedid, min_talk, max_talk)
    if format == "csv":
        return StreamingResponse(
            _csv_rows(service, query, principal), media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="calls.csv"'})
    calls = list(await db.scalars(query.limit(limit).offset(offset)))
    recordings: dict[str, list[Recording]] = {}
    if calls:
        rows = await db.scalars(
            select(Recording).where(Recording.linkedid.in_([c.linkedid for c in calls])))
        for rec in rows:
            recordings.setdefault(rec.linkedid, []).append(rec)
    wrapups = await wrapups_for(db, [c.linkedid for c in calls])
    out = []
    for call in calls:
        item = CallOut.model_validate(call).model_copy(update=_shown(call, principal))
        wrapup = wrapups.get(call.linkedid)
        item.disposition = wrapup.disposition_code if wrapup else None
        item.note = shown_note(wrapup, Viewer(principal.role), principal.agent_name)
        item.recordings = [RecordingOut.model_validate(r)
                           for r in recordings.get(call.linkedid, [])]
        out.append(item)
    return out


# Rows per chunk sent, and per step of the event loop: 500 rows were a 10-20 ms step that
# AMI events waited behind (py-spy under the heavy bench); 100 keep each step short.
EXPORT_BATCH = 100
CSV_FAILED = "# ERROR: the export failed after {rows} rows; this file is incomplete"


async def _csv_rows(service: Service, query: Select,
                    principal: Principal) -> AsyncIterator[str]:
    """Streams from a server-side cursor: 100,000 rows never sit in memory at once.

    Plain rows, not ORM objects, a batch at a time: building 100,000 Call objects and
    sending each row on its own cost the event loop seconds of work in long stretches,
    which FastAGI answers waited behind. Between batches the loop serves others.

    The 200 is sent before the first row, so a failure midway cannot change the status: the
    file then ends with CSV_FAILED, which no spreadsheet reader takes for a call."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    rows = 0
    plain = (query.outerjoin(CallWrapup, CallWrapup.linkedid == Call.linkedid)
             .with_only_columns(*Call.__table__.columns, CallWrapup.agent.label("wrapup_agent"),
                                CallWrapup.disposition_code.label("disposition"),
                                CallWrapup.note.label("note")))
    viewer = Viewer(principal.role)
    try:
        async with service.sessions() as session:
            result = await session.stream(plain.execution_options(yield_per=EXPORT_BATCH))
            async for batch in result.partitions():
                for call in batch:
                    shown = _shown(call, principal)  # type: ignore[arg-type]
                    shown["note"] = shown_note(
                        CallWrapup(agent=call.wrapup_agent, note=call.note)
                        if call.wrapup_agent else None, viewer, principal.agent_name)
                    writer.writerow([shown.get(c, getattr(call, c)) for c in CSV_COLUMNS])
                rows += len(batch)
                yield _drain(buffer)
                await asyncio.sleep(0)  # the loop's turn: sending may not have yielded
    except Exception as exc:
        log.error("CSV export failed", extra={"rows": rows, "error": type(exc).__name__})
        yield CSV_FAILED.format(rows=rows) + "\r\n"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


class ClickToCall(BaseModel):
    number: PhoneInput


class CallStarted(BaseModel):
    call_id: str


@router.post("/calls", response_model=CallStarted, status_code=202,
             responses=errors(409, 503))
async def start_call(body: ClickToCall, principal: Agent, service: ServiceDep) -> CallStarted:
    """Rings the agent's own phone, then dials the customer; progress on /ws/agent.
    503 while Asterisk is not connected."""
    return CallStarted(call_id=await place_click_to_call(service, principal, body.number,
                                                         loc=("body", "number")))


async def place_click_to_call(service: Service, principal: Principal, number: str,
                              loc: Sequence[str] | None) -> str:
    """`loc`: where the number came from in the request (a 422 names it); None when it
    came from the database (then a refusal is a 409)."""
    if not principal.interface or not principal.agent_name:
        raise HTTPException(409, "this user has no agent phone")
    settings = service.settings
    try:
        customer = dialable(number, settings.default_region, settings.dial_allowed_regions,
                            settings.dial_denied_prefixes)
    except ValueError as exc:
        if loc is None:
            raise HTTPException(409, str(exc)) from None
        raise invalid(loc, str(exc)) from None
    try:
        call_id = await click_to_call(
            service.ami.client, service.tracker, agent=principal.agent_name,
            agent_interface=principal.interface, customer_e164=customer,
            outbound_callerid=principal.outbound_callerid,
            before_originate=lambda cid: service.pops.track_click_to_call(
                cid, principal.interface, customer))
    except AMIError as exc:
        raise HTTPException(503, f"Asterisk unavailable: {exc}") from None
    except ValueError as exc:  # stored before values for Asterisk were checked
        raise HTTPException(409, f"this user's agent settings cannot be sent to Asterisk "
                                 f"({exc}): correct the user") from None
    return call_id
