"""Outbound projects: settings, agents, lists (import, from contacts), do-not-call, preview
dialling, agents' results, and the five reports (JSON or CSV)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Response, UploadFile
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator
from sqlalchemy import select

from callcenter import policy
from callcenter.api.auth import Agent, Principal, Supervisor
from callcenter.api.contacts import _save_upload, import_files
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import Limit, ObjectId, Offset, PhoneInput, Timestamp, text
from callcenter.contacts.importer import ImportFileError, ImportTooLarge, parse_file, spooled
from callcenter.contacts.lookup import field_rules
from callcenter.dispositions.service import (
    CallbackRequest,
    CallNotFound,
    WrapupError,
    save_wrapup,
)
from callcenter.limits import ONE_LINE, PLAIN_TEXT
from callcenter.phone import to_e164
from callcenter.projects import reports, service
from callcenter.projects.models import Project, ProjectEntry
from callcenter.scripts import service as scripts
from callcenter.users.models import User

router = APIRouter(prefix="/projects", tags=["projects"])
Name = text(Project.name, min_length=1)
AgentName = text(80, min_length=1)
Reason = text(200)
Minutes = Annotated[int, Field(ge=1, le=60 * 24 * 30)]
CallerId = text(Project.caller_id, pattern=r"^\+?[0-9]{2,20}$", min_length=2)
HHMM = text(5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", min_length=5)


class ProjectIn(BaseModel):
    name: Name
    mode: Literal["preview", "progressive"] = "preview"
    caller_id: CallerId | None = None
    script_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    priority: Annotated[int, Field(ge=0, le=100)] = 0
    retry_busy: Minutes | None = 10
    retry_no_answer: Minutes | None = 60
    retry_congestion: Minutes | None = 10
    retry_failed: Minutes | None = None
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 3
    hours_start: HHMM = "09:00"
    hours_end: HHMM = "21:00"
    ring_seconds: Annotated[int, Field(ge=5, le=120)] = 30
    wrapup_seconds: Annotated[int, Field(ge=0, le=3600)] = 60
    agents: Annotated[list[AgentName], Field(max_length=500)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hours(self) -> ProjectIn:
        if _minutes(self.hours_start) >= _minutes(self.hours_end):
            raise ValueError("hours_start must be before hours_end")
        return self


class ProjectPatch(BaseModel):
    name: Name | None = None
    mode: Literal["preview", "progressive"] | None = None
    caller_id: CallerId | None = None
    script_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    priority: Annotated[int, Field(ge=0, le=100)] | None = None
    retry_busy: Minutes | None = None
    retry_no_answer: Minutes | None = None
    retry_congestion: Minutes | None = None
    retry_failed: Minutes | None = None
    max_attempts: Annotated[int, Field(ge=1, le=50)] | None = None
    ring_seconds: Annotated[int, Field(ge=5, le=120)] | None = None
    wrapup_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    agents: Annotated[list[AgentName], Field(max_length=500)] | None = None


class ProjectOut(BaseModel):
    id: int
    name: str
    status: str
    mode: str
    caller_id: str | None
    script_id: int | None
    priority: int
    retry_busy: int | None
    retry_no_answer: int | None
    retry_congestion: int | None
    retry_failed: int | None
    max_attempts: int
    hours_start: str
    hours_end: str
    ring_seconds: int
    wrapup_seconds: int
    agents: list[str]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _now(svc: Any) -> datetime:
    return svc.dialler.clock()


async def _out(db: DbDep, project: Project) -> ProjectOut:
    return ProjectOut(
        id=project.id, name=project.name, status=project.status, mode=project.mode,
        caller_id=project.caller_id, script_id=project.script_id, priority=project.priority,
        retry_busy=project.retry_busy, retry_no_answer=project.retry_no_answer,
        retry_congestion=project.retry_congestion, retry_failed=project.retry_failed,
        max_attempts=project.max_attempts, hours_start=_hhmm(project.hours_start),
        hours_end=_hhmm(project.hours_end), ring_seconds=project.ring_seconds,
        wrapup_seconds=project.wrapup_seconds,
        agents=await service.agents_of(db, project.id))


async def _project(db: DbDep, project_id: int, principal: Principal | None = None) -> Project:
    try:
        project = await service.get_project(db, project_id)
    except service.NotFound:
        raise HTTPException(404, "no such project") from None
    if principal is not None and principal.is_agent and (
            principal.agent_name not in await service.agents_of(db, project_id)):
        raise HTTPException(404, "no such project")
    return project


async def _check_script(db: DbDep, script_id: int | None) -> None:
    if script_id is not None:
        try:
            await scripts.latest(db, script_id)
        except scripts.ScriptNotFound:
            raise invalid(("body", "script_id"), "no such script") from None


@router.post("", status_code=201, responses=errors(409))
async def create_project(body: ProjectIn, principal: Supervisor, db: DbDep) -> ProjectOut:
    if await db.scalar(select(Project.id).where(Project.name == body.name)) is not None:
        raise HTTPException(409, "a project of this name exists")
    await _check_script(db, body.script_id)
    values = body.model_dump(exclude={"agents", "hours_start", "hours_end"})
    project = Project(**values, hours_start=_minutes(body.hours_start),
                      hours_end=_minutes(body.hours_end))
    db.add(project)
    await db.flush()
    await service.set_agents(db, project.id, body.agents)
    await db.commit()
    return await _out(db, project)


@router.get("")
async def list_projects(principal: Agent, db: DbDep) -> list[ProjectOut]:
    """Agents: the projects they are assigned to."""
    projects = list(await db.scalars(select(Project).order_by(Project.priority.desc(),
                                                              Project.id)))
    out = [await _out(db, p) for p in projects]
    if principal.is_agent:
        out = [p for p in out if principal.agent_name in p.agents]
    return out


@router.get("/{project_id}", responses=errors(404))
async def get_project(project_id: ObjectId, principal: Agent, db: DbDep) -> ProjectOut:
    return await _out(db, await _project(db, project_id, principal))


@router.patch("/{project_id}", responses=errors(404, 409))
async def update_project(project_id: ObjectId, body: ProjectPatch, principal: Supervisor,
                         db: DbDep) -> ProjectOut:
    project = await _project(db, project_id)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] != project.name and await db.scalar(
            select(Project.id).where(Project.name == changes["name"])) is not None:
        raise HTTPException(409, "a project of this name exists")
    for key in ("name", "mode", "priority", "max_attempts", "ring_seconds", "wrapup_seconds",
                "agents"):
        if key in changes and changes[key] is None:
            raise invalid(("body", key), "cannot be null: leave it out to keep it")
    await _check_script(db, changes.get("script_id"))
    if "agents" in changes:
        await service.set_agents(db, project.id, changes.pop("agents"))
    for key, value in changes.items():
        setattr(project, key, value)
    await db.commit()
    return await _out(db, project)


# --- do not call -------------------------------------------------------------------------

class DncIn(BaseModel):
    number: PhoneInput
    reason: Reason | None = None


async def _add_dnc(db: DbDep, svc: ServiceDep, body: DncIn, project_id: int | None) -> dict:
    number = to_e164(body.number, svc.settings.default_region)
    if number is None:
        raise invalid(("body", "number"), "not a phone number")
    await service.add_dnc(db, number, project_id, body.reason)
    await db.commit()
    return {"number": number, "project_id": project_id}


@router.post("/dnc", status_code=201)
async def add_global_dnc(body: DncIn, principal: Supervisor, db: DbDep,
                         svc: ServiceDep) -> dict[str, Any]:
    """Never called again by any project."""
    return await _add_dnc(db, svc, body, None)


@router.post("/{project_id}/dnc", status_code=201, responses=errors(404))
async def add_project_dnc(project_id: ObjectId, body: DncIn, principal: Supervisor, db: DbDep,
                          svc: ServiceDep) -> dict[str, Any]:
    await _project(db, project_id)
    return await _add_dnc(db, svc, body, project_id)


# --- lists ---------------------------------------------------------------------------------

ColumnMapping = TypeAdapter(dict[str, str])


@router.post("/{project_id}/import", responses={**errors(404, 413), 503: {
    "description": "too many imports at once; see Retry-After"}})
async def import_list(
    project_id: ObjectId, principal: Supervisor, db: DbDep, svc: ServiceDep,
    file: Annotated[UploadFile, File(description=".csv or .xlsx")],
    mapping: Annotated[str | None, Form(max_length=10_000, pattern=PLAIN_TEXT)] = None,
    region: Annotated[str | None, Form(max_length=2, pattern=r"^[A-Z]{2}$")] = None,
    on_duplicate: Annotated[Literal["skip", "merge"], Form()] = "skip",
) -> dict[str, Any]:
    """The contacts importer's parsing (worker process, streamed), then the project's
    duplicate checks (phone, e-mail; within the list and against contacts) and DNC."""
    project = await _project(db, project_id)
    filename = file.filename or ""
    if not re.fullmatch(ONE_LINE, filename):
        raise invalid(("body", "file"), "the file name contains control characters")
    try:
        columns = ColumnMapping.validate_json(mapping) if mapping else None
    except ValidationError:
        raise invalid(("body", "mapping"), "must be a JSON object of column names") from None
    report = service.ListReport()
    try:
        with svc.imports.take():
            async with import_files(svc.settings.spool_dir) as (upload, spool):
                await asyncio.to_thread(_save_upload, file.file, upload)
                parsed = await svc.workers.run(
                    parse_file, upload, filename, columns,
                    region or svc.settings.default_region, spool, await field_rules(db))
                report.errors = parsed.errors
                try:
                    await service.import_rows(db, project, spooled(spool),
                                              on_duplicate=on_duplicate, report=report,
                                              now=_now(svc))
                    await db.commit()
                except Exception:
                    await db.rollback()
                    raise
    except ImportTooLarge as exc:
        raise HTTPException(413, f"cannot import: {exc}") from None
    except ImportFileError as exc:
        raise invalid(("body", exc.field), f"cannot import: {exc}") from None
    return report.summary()


class FromContacts(BaseModel):
    contact_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                           Field(min_length=1, max_length=1000)]


@router.post("/{project_id}/entries/from-contacts", responses=errors(404))
async def add_from_contacts(project_id: ObjectId, body: FromContacts, principal: Supervisor,
                            db: DbDep, svc: ServiceDep) -> dict[str, Any]:
    """Contacts found with GET /contacts?q=... into the list (first number each)."""
    project = await _project(db, project_id)
    report = await service.add_contacts(db, project, body.contact_ids, _now(svc))
    await db.commit()
    return report.summary()


def _entry(entry: ProjectEntry, viewer: policy.Viewer,
           rules: dict[str, policy.FieldRule]) -> dict[str, Any]:
    """A list entry as the viewer may see it (agents: name, last 4 digits, allowed fields)."""
    fields = {k: shown for k, v in (entry.fields or {}).items()
              if (shown := policy.show(v, rules.get(k, policy.UNDECLARED), viewer)) is not None}
    out = {"id": entry.id, "name": policy.show(entry.name, policy.NAME, viewer),
           "phone": policy.show(entry.phone, policy.PHONE, viewer), "fields": fields,
           "contact_id": entry.contact_id, "state": entry.state, "attempts": entry.attempts,
           "next_at": entry.next_at, "last_result": entry.last_result,
           "disposition": entry.disposition, "callback_at": entry.callback_at}
    if viewer.sees_everything:
        out["email"] = entry.email
    return out


@router.get("/{project_id}/entries", responses=errors(404))
async def list_entries(project_id: ObjectId, principal: Supervisor, db: DbDep,
                       state: Literal["queued", "calling", "done", "dnc", "skipped"] | None = None,
                       limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    await _project(db, project_id)
    query = select(ProjectEntry).where(ProjectEntry.project_id == project_id)
    if state:
        query = query.where(ProjectEntry.state == state)
    rules = await field_rules(db)
    return [_entry(e, policy.Viewer(principal.role), rules)
            for e in await db.scalars(query.order_by(ProjectEntry.id).limit(limit)
                                      .offset(offset))]


# --- preview mode and results ------------------------------------------------------------------

def _agent(principal: Principal) -> str:
    if not principal.agent_name:
        raise HTTPException(409, "this user has no agent phone")
    return principal.agent_name


async def _card(db: DbDep, project: Project, entry: ProjectEntry,
                principal: Principal) -> dict[str, Any]:
    viewer = policy.Viewer(principal.role)
    rules = await field_rules(db)
    out: dict[str, Any] = {"project_id": project.id, "entry": _entry(entry, viewer, rules),
                           "script": None}
    if project.script_id is not None:
        version = await scripts.latest(db, project.script_id)
        out["script"] = {"script_id": project.script_id, "version": version.version,
                         "step": scripts.render_step(version, version.steps[0]["id"]
                                                     if version.steps else None,
                                                     entry_values(entry, rules), viewer)}
    return out


def entry_values(entry: ProjectEntry,
                 rules: dict[str, policy.FieldRule]) -> scripts.Values:
    values: dict[str, tuple[str | None, policy.FieldRule]] = {
        k: (v, rules.get(k, policy.UNDECLARED)) for k, v in (entry.fields or {}).items()}
    values.update({"name": (entry.name, policy.NAME), "phone": (entry.phone, policy.PHONE),
                   "email": (entry.email, policy.EMAIL)})
    return values


@router.post("/{project_id}/preview/next", responses=errors(404, 409))
async def preview_next(project_id: ObjectId, principal: Agent, db: DbDep,
                       svc: ServiceDep) -> dict[str, Any]:
    """The agent's next card (the same one until they call or skip it) and the script."""
    agent = _agent(principal)
    project = await _project(db, project_id, principal)
    if project.status != "running" or project.mode != "preview":
        raise HTTPException(409, "the project is not running in preview mode")
    entry = await service.held_card(db, project.id, agent)
    if entry is None:
        entry = await service.claim_next(db, project, _now(svc), holder=agent)
        await db.commit()
    if entry is None:
        raise HTTPException(404, "no number is due now")
    return await _card(db, project, entry, principal)


async def _held(db: DbDep, project_id: int, entry_id: int, agent: str) -> ProjectEntry:
    entry = await db.get(ProjectEntry, entry_id)
    if entry is None or entry.project_id != project_id or entry.held_by != agent \
            or entry.state != "calling":
        raise HTTPException(404, "not your card")
    return entry


@router.post("/{project_id}/preview/{entry_id}/call", responses=errors(404, 409, 503))
async def preview_call(project_id: ObjectId, entry_id: ObjectId, principal: Agent, db: DbDep,
                       svc: ServiceDep) -> dict[str, Any]:
    """Rings the agent's phone, then the customer's. Returns the call's linkedid."""
    agent = _agent(principal)
    project = await _project(db, project_id, principal)
    entry = await _held(db, project_id, entry_id, agent)
    interface = principal.interface or await db.scalar(
        select(User.interface).where(User.agent_name == agent))
    if not interface:
        raise HTTPException(409, "the agent has no phone (interface)")
    if not svc.ami.connected:
        raise HTTPException(503, "Asterisk is not reachable now")
    try:
        linkedid = await svc.dialler.call_preview(db, project, entry, agent=agent,
                                                  interface=interface)
    except service.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return {"linkedid": linkedid, "attempt": entry.attempts}


class SkipIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=ONE_LINE)]
    later_minutes: Minutes | None = Field(None, description="back in the list after this; "
                                                            "null: skipped for good")


@router.post("/{project_id}/preview/{entry_id}/skip", responses=errors(404, 409))
async def preview_skip(project_id: ObjectId, entry_id: ObjectId, body: SkipIn,
                       principal: Agent, db: DbDep, svc: ServiceDep) -> dict[str, Any]:
    agent = _agent(principal)
    project = await _project(db, project_id, principal)
    entry = await _held(db, project_id, entry_id, agent)
    service.skip(entry, body.reason, body.later_minutes, _now(svc), project)
    await db.commit()
    return {"id": entry.id, "state": entry.state, "next_at": entry.next_at}


class DispositionIn(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=40, pattern=ONE_LINE)]
    note: Annotated[str, Field(max_length=2000, pattern=PLAIN_TEXT)] | None = None
    callback_at: Timestamp | None = None


@router.post("/attempts/{linkedid}/disposition", responses=errors(404))
async def save_disposition(linkedid: Annotated[str, Path(max_length=64, pattern=r"^[\w.-]+$")],
                           body: DispositionIn, principal: Agent, db: DbDep,
                           svc: ServiceDep) -> dict[str, Any]:
    """The agent's result for their project call (a supervisor may give it on their behalf):
    the same as the desktop's `POST /calls/{linkedid}/wrapup` (one service function, the
    same wrap-up on the call record), answering with the number's next state. "Call back
    at" wins over the retry rules."""
    if body.note is not None and (found := policy.restricted_content(body.note)):
        raise invalid(("body", "note"), f"looks like {found}: not stored in a note")
    agent = principal.agent_name if principal.is_agent else None
    try:
        await save_wrapup(db, linkedid=linkedid, agent=agent, code=body.code, note=body.note,
                          callback=(CallbackRequest(when=body.callback_at)
                                    if body.callback_at else None),
                          now=_now(svc), only_project=True)
    except CallNotFound:
        raise HTTPException(404, "no such attempt") from None
    except WrapupError as exc:
        field = {"callback.when": "callback_at"}.get(exc.field or "code", exc.field or "code")
        raise invalid(("body", field), str(exc)) from None
    attempt = await service.attempt_by_linkedid(db, linkedid)
    await db.commit()
    svc.dialler.wake()
    entry = await db.get(ProjectEntry, attempt.entry_id)
    assert entry is not None
    return {"linkedid": linkedid, "disposition": attempt.disposition, "result": attempt.result,
            "entry_state": entry.state, "next_at": entry.next_at}


# --- reports -----------------------------------------------------------------------------------

ReportName = Literal["progress", "agents", "funnel", "talk-time", "callbacks"]


def _csv(rows: list[dict[str, Any]], name: str) -> Response:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/{project_id}/reports/{report}", responses={
    **errors(404), 200: {"content": {"text/csv": {}}}})
async def project_report(project_id: ObjectId, report: ReportName, principal: Supervisor,
                         db: DbDep, format: Literal["json", "csv"] = "json",
                         since: Timestamp | None = None,
                         until: Timestamp | None = None) -> Any:
    """progress, agents (per day), funnel, talk-time, callbacks; `format=csv` for a file."""
    await _project(db, project_id)
    rows: list[dict[str, Any]]
    body: Any
    if report == "progress":
        body = await reports.progress(db, project_id)
        rows = [{"measure": k, "value": v} for k, v in body.items() if k != "by_result"] + [
            {"measure": f"result:{k}", "value": v} for k, v in body["by_result"].items()]
    elif report == "agents":
        body = rows = await reports.agent_activity(db, project_id, since, until)
    elif report == "funnel":
        body = await reports.funnel(db, project_id)
        rows = [{"stage": k, "numbers": v} for k, v in body.items()]
    elif report == "talk-time":
        body = rows = await reports.talk_time(db, project_id)
    else:
        viewer = policy.Viewer(principal.role)
        body = rows = [{"entry_id": e.id, "name": e.name,
                        "phone": policy.show(e.phone, policy.PHONE, viewer),
                        "callback_at": e.callback_at.astimezone(UTC).isoformat()
                        if e.callback_at else None, "agent": e.callback_agent,
                        "disposition": e.disposition}
                       for e in await reports.callbacks_due(db, project_id, until)]
    if format == "csv":
        return _csv(rows, f"project-{project_id}-{report}")
    return body


# last: its path would otherwise take /{id}/dnc, /{id}/import
@router.post("/{project_id}/{action}", responses=errors(404, 409))
async def change_status(project_id: ObjectId, action: Literal["start", "pause", "stop"],
                        principal: Supervisor, db: DbDep, svc: ServiceDep) -> ProjectOut:
    project = await _project(db, project_id)
    try:
        service.set_status(project, action)
    except service.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    await db.commit()
    svc.dialler.wake()
    return await _out(db, project)
