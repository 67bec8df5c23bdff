"""Call scripts: supervisors write them (each edit a new version); agents walk them during a
call, the answers stored with the call (linkedid + version)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from callcenter import policy
from callcenter.api.auth import Agent, Principal, Supervisor
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import errors, invalid
from callcenter.api.fields import ObjectId, queue_name, text
from callcenter.calls.models import Call
from callcenter.contacts.lookup import field_rules
from callcenter.contacts.models import Contact
from callcenter.limits import ONE_LINE
from callcenter.projects.models import Project, ProjectAttempt, ProjectEntry
from callcenter.scripts import service as scripts
from callcenter.scripts.models import Script

router = APIRouter(prefix="/scripts", tags=["scripts"])
StepId = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[\w.-]+$")]
StepText = Annotated[str, Field(min_length=1, max_length=4000, pattern=r"^[^\x00]*$")]
Linkedid = Annotated[str, Path(max_length=64, pattern=r"^[\w.-]+$")]
QueueName = queue_name(Call.queue)


class Choice(BaseModel):
    value: Annotated[str, Field(min_length=1, max_length=60, pattern=ONE_LINE)]
    label: Annotated[str, Field(max_length=200, pattern=ONE_LINE)] | None = None
    next: StepId | None = None


class Step(BaseModel):
    id: StepId
    text: StepText
    choices: Annotated[list[Choice], Field(max_length=20)] = Field(default_factory=list)
    input: bool = Field(False, description="a free answer (no choices)")
    next: StepId | None = Field(None, description="the step after this one (null: the end)")


Steps = Annotated[list[Step], Field(min_length=1, max_length=200)]


class ScriptIn(BaseModel):
    name: text(Script.name, min_length=1)  # type: ignore[valid-type]
    steps: Steps


class VersionIn(BaseModel):
    steps: Steps


class ScriptOut(BaseModel):
    id: int
    name: str
    version: int
    steps: list[dict[str, Any]]


async def _script_out(db: DbDep, script_id: int, version: int | None = None) -> ScriptOut:
    try:
        found = await scripts.latest(db, script_id, version)
    except scripts.ScriptNotFound:
        raise HTTPException(404, "no such script") from None
    return ScriptOut(id=script_id, name=await scripts.script_name(db, script_id),
                     version=found.version, steps=found.steps)


def _steps(steps: list[Step]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude_defaults=True) | {"id": s.id, "text": s.text} for s in steps]


@router.post("", status_code=201, responses=errors(409))
async def create_script(body: ScriptIn, principal: Supervisor, db: DbDep) -> ScriptOut:
    try:
        version = await scripts.create(db, body.name, _steps(body.steps), principal.username)
    except scripts.ScriptError as exc:
        if exc.field == "name":
            raise HTTPException(409, str(exc)) from None
        raise invalid(("body", exc.field or "steps"), str(exc)) from None
    await db.commit()
    return await _script_out(db, version.script_id)


@router.get("")
async def list_scripts(principal: Supervisor, db: DbDep) -> list[dict[str, Any]]:
    return [{"id": i, "name": n} for i, n in
            await db.execute(select(Script.id, Script.name).order_by(Script.name))]


@router.get("/{script_id}", responses=errors(404))
async def get_script(script_id: ObjectId, principal: Supervisor, db: DbDep,
                     version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
                     ) -> ScriptOut:
    return await _script_out(db, script_id, version)


@router.post("/{script_id}/versions", status_code=201, responses=errors(404))
async def add_version(script_id: ObjectId, body: VersionIn, principal: Supervisor,
                      db: DbDep) -> ScriptOut:
    try:
        version = await scripts.new_version(db, script_id, _steps(body.steps),
                                            principal.username)
    except scripts.ScriptNotFound:
        raise HTTPException(404, "no such script") from None
    except scripts.ScriptError as exc:
        raise invalid(("body", exc.field or "steps"), str(exc)) from None
    await db.commit()
    return await _script_out(db, script_id, version.version)


class QueueScriptIn(BaseModel):
    script_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None


@router.put("/queues/{queue}", responses=errors(404))
async def assign_queue(queue: QueueName, body: QueueScriptIn, principal: Supervisor,
                       db: DbDep) -> dict[str, Any]:
    """The script agents of an inbound queue see (null: none)."""
    try:
        await scripts.assign_queue(db, queue, body.script_id)
    except scripts.ScriptNotFound:
        raise HTTPException(404, "no such script") from None
    await db.commit()
    return {"queue": queue, "script_id": body.script_id}


# --- walking a script during a call ------------------------------------------------------------

class StartIn(BaseModel):
    queue: QueueName | None = Field(None, description="an inbound call's queue (its script)")


class AnswerIn(BaseModel):
    step: StepId
    answer: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]


async def _context(db: DbDep, linkedid: str, principal: Principal, queue: str | None
                   ) -> tuple[int | None, scripts.Values]:
    """The call's script and the contact's values (through the data policy's rules)."""
    rules = await field_rules(db)
    attempt = await db.scalar(select(ProjectAttempt).where(ProjectAttempt.linkedid == linkedid))
    if attempt is not None:
        if principal.is_agent and attempt.agent != principal.agent_name:
            raise HTTPException(404, "no such call")
        project = await db.get(Project, attempt.project_id)
        entry = await db.get(ProjectEntry, attempt.entry_id)
        assert project is not None and entry is not None
        from callcenter.api.projects import entry_values

        return project.script_id, entry_values(entry, rules)
    call = await db.scalar(select(Call).where(Call.linkedid == linkedid))
    if call is not None and principal.is_agent and call.agent not in (None,
                                                                     principal.agent_name):
        raise HTTPException(404, "no such call")
    queue = queue or (call.queue if call is not None else None)
    script_id = await scripts.queue_script(db, queue) if queue else None
    values: dict[str, tuple[str | None, policy.FieldRule]] = {}
    if call is not None and call.contact_id is not None:
        contact = await db.get(Contact, call.contact_id)
        if contact is not None:
            values = {k: (v, rules.get(k, policy.UNDECLARED))
                      for k, v in (contact.fields or {}).items()}
            values.update({"name": (contact.name, policy.NAME),
                           "email": (contact.email, policy.EMAIL)})
    return script_id, values


async def _walk(db: DbDep, linkedid: str, principal: Principal,
                values: scripts.Values) -> dict[str, Any]:
    run = await scripts.run_of(db, linkedid)
    assert run is not None
    version = await scripts.latest(db, run.script_id, run.version)
    viewer = policy.Viewer(principal.role)
    return {"linkedid": linkedid, "script_id": run.script_id, "version": run.version,
            "step": scripts.render_step(version, run.step, values, viewer),
            "answers": [{"step": a.step, "answer": a.answer}
                        for a in await scripts.answers_of(db, run)]}


@router.post("/calls/{linkedid}", responses=errors(404))
async def start_walk(linkedid: Linkedid, body: StartIn, principal: Agent, db: DbDep,
                     svc: ServiceDep) -> dict[str, Any]:
    """The call's script at its current step (started at the first one, on the latest
    version, the first time; the same version for the rest of the call)."""
    script_id, values = await _context(db, linkedid, principal, body.queue)
    run = await scripts.run_of(db, linkedid)
    if run is None:
        if script_id is None:
            raise HTTPException(404, "no script for this call")
        await scripts.start_run(db, linkedid, script_id, principal.agent_name,
                                svc.dialler.clock())
        await db.commit()
    return await _walk(db, linkedid, principal, values)


@router.get("/calls/{linkedid}", responses=errors(404))
async def get_walk(linkedid: Linkedid, principal: Agent, db: DbDep) -> dict[str, Any]:
    _script, values = await _context(db, linkedid, principal, None)
    if await scripts.run_of(db, linkedid) is None:
        raise HTTPException(404, "no script walked on this call")
    return await _walk(db, linkedid, principal, values)


@router.post("/calls/{linkedid}/answers", responses=errors(404))
async def answer_step(linkedid: Linkedid, body: AnswerIn, principal: Agent, db: DbDep,
                      svc: ServiceDep) -> dict[str, Any]:
    _script, values = await _context(db, linkedid, principal, None)
    run = await scripts.run_of(db, linkedid)
    if run is None:
        raise HTTPException(404, "no script walked on this call")
    try:
        await scripts.answer(db, run, body.step, body.answer, svc.dialler.clock())
    except scripts.ScriptError as exc:
        raise invalid(("body", exc.field or "answer"), str(exc)) from None
    await db.commit()
    return await _walk(db, linkedid, principal, values)
