"""Contacts: CRUD, import from CSV/XLSX, and forgetting a customer."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from callcenter.api.auth import Admin, Agent, Principal, Supervisor, client_ip
from callcenter.api.calls import CallStarted, place_click_to_call
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import Problem, errors, invalid
from callcenter.api.fields import Limit, ObjectId, Offset, PhoneInput, multiline, text
from callcenter.audit.log import audit
from callcenter.contacts.access import CardNotAllowed, audit_card_read, check_agent_may_read
from callcenter.contacts.card import card, refused_values
from callcenter.contacts.forget import forget_contact
from callcenter.contacts.importer import (
    ImportFileError,
    ImportTooLarge,
    Report,
    apply,
    parse_file,
    spooled,
)
from callcenter.contacts.lookup import field_rules
from callcenter.contacts.models import CardField, Contact, ContactNumber
from callcenter.limits import ONE_LINE, PLAIN_TEXT
from callcenter.outbox.contacts import contact_changed, forget_in_outbox
from callcenter.outbox.staged import release_or_log
from callcenter.phone import to_e164
from callcenter.policy import BUILT_IN, NOTES, FieldRule, Viewer

router = APIRouter(prefix="/contacts", tags=["contacts"])
MAX_UPLOAD = 20 * 1024 * 1024
MAX_NUMBERS = 20

Name = text(Contact.name, min_length=1)
Email = text(Contact.email)
Notes = multiline(Contact.notes)
Language = text(Contact.language)
FieldName = text(CardField.name, min_length=1)
FieldValue = multiline(1000)
SearchText = text(200)
Numbers = Annotated[list[PhoneInput], Field(min_length=1, max_length=MAX_NUMBERS)]
Fields = Annotated[dict[FieldName, FieldValue], Field(max_length=100)]


class ContactIn(BaseModel):
    name: Name
    numbers: Numbers
    email: Email | None = None
    notes: Notes | None = None
    vip: bool = False
    language: Language | None = None
    recording_opt_out: bool = False
    fields: Fields = Field(default_factory=dict)


class ContactPatch(BaseModel):
    """Only the fields sent change; `null` clears email, notes and language (the others
    cannot be empty)."""

    name: Name | None = None
    numbers: Numbers | None = None
    email: Email | None = None
    notes: Notes | None = None
    vip: bool | None = None
    language: Language | None = None
    recording_opt_out: bool | None = None
    fields: Fields | None = None

    @field_validator("name", "numbers", "vip", "recording_opt_out", "fields")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be null: leave it out to keep it")
        return value


def _numbers(raw: list[str], region: str) -> list[str]:
    out = []
    for index, number in enumerate(raw):
        e164 = to_e164(number, region)
        if e164 is None:
            raise invalid(("body", "numbers", index), "not a phone number")
        out.append(e164)
    return list(dict.fromkeys(out))


def _check_policy(name: str | None, notes: str | None, fields: dict[str, str] | None,
                  rules: Mapping[str, FieldRule]) -> None:
    """422 naming each field whose value the data policy refuses (callcenter/policy.py)."""
    refused = refused_values(name=name, notes=notes, fields=fields or {}, rules=rules)
    if refused:
        raise HTTPException(422, [{"loc": ["body", *loc], "msg": msg, "type": "value_error"}
                                  for loc, msg in refused.items()])


def _viewer(principal: Principal) -> Viewer:
    return Viewer(principal.role)


@router.get("")
async def list_contacts(principal: Supervisor, db: DbDep,
                        q: SearchText | None = None,
                        limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    """`q`: part of the name, the e-mail or a number (case-insensitive)."""
    query = select(Contact).order_by(Contact.name, Contact.id)
    if q:
        # a subquery, not a join: DISTINCT over the JSON fields column fails on PostgreSQL
        query = query.where(or_(
            Contact.name.icontains(q, autoescape=True),
            Contact.email.icontains(q, autoescape=True),
            Contact.id.in_(select(ContactNumber.contact_id)
                           .where(ContactNumber.number.contains(q, autoescape=True)))))
    rules = await field_rules(db)
    return [card(c, _viewer(principal), rules)
            for c in await db.scalars(query.limit(limit).offset(offset))]


@router.post("", status_code=201, responses=errors(409))
async def create_contact(body: ContactIn, principal: Supervisor, db: DbDep, service: ServiceDep,
                         request: Request) -> dict[str, Any]:
    numbers = _numbers(body.numbers, service.settings.default_region)
    rules = await field_rules(db)
    _check_policy(body.name, body.notes, body.fields, rules)
    contact = Contact(**body.model_dump(exclude={"numbers"}),
                      numbers=[ContactNumber(number=n) for n in numbers])
    db.add(contact)
    try:
        await db.flush()
    except IntegrityError:
        raise HTTPException(409, "a number already belongs to another contact") from None
    audit(db, username=principal.username, action="contact.create", object_type="contact",
          object_id=contact.id, client=client_ip(request))
    await contact_changed(db, contact, "created")
    await db.commit()
    return card(contact, _viewer(principal), rules)


@router.get("/{contact_id}", responses={404: {
    "model": Problem, "description": "no such contact, or (agents) not one they were on a "
                                     "call with"}})
async def get_contact(contact_id: ObjectId, principal: Agent, db: DbDep, service: ServiceDep,
                      request: Request) -> dict[str, Any]:
    """Agents: only contacts they are or recently were on a call with; each read audited."""
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    if principal.is_agent:
        try:
            await check_agent_may_read(
                db, agent_name=principal.agent_name, numbers=[n.number for n in contact.numbers],
                live_numbers=service.pops.numbers_on_call(principal.interface),
                window=timedelta(hours=service.settings.agent_card_window_hours))
        except CardNotAllowed:
            raise HTTPException(404, "no such contact") from None
        audit_card_read(db, username=principal.username, contact_id=contact_id, via="contact",
                        client=client_ip(request))
        await db.commit()
    return card(contact, _viewer(principal), await field_rules(db))


@router.patch("/{contact_id}", responses=errors(404, 409))
async def update_contact(contact_id: ObjectId, body: ContactPatch, principal: Supervisor,
                         db: DbDep, service: ServiceDep, request: Request) -> dict[str, Any]:
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    changes = body.model_dump(exclude_unset=True)
    rules = await field_rules(db)
    _check_policy(changes.get("name"), changes.get("notes"), changes.get("fields"), rules)
    if "numbers" in changes:
        numbers = _numbers(changes.pop("numbers"), service.settings.default_region)
        contact.numbers = [n for n in contact.numbers if n.number in numbers] + [
            ContactNumber(number=n) for n in numbers
            if n not in {x.number for x in contact.numbers}]
    for key, value in changes.items():
        setattr(contact, key, value)
    try:
        await db.flush()
    except IntegrityError:
        raise HTTPException(409, "a number already belongs to another contact") from None
    audit(db, username=principal.username, action="contact.update", object_type="contact",
          object_id=contact_id, client=client_ip(request), details=",".join(sorted(changes)))
    await contact_changed(db, contact, "updated")
    await db.commit()
    return card(contact, _viewer(principal), rules)


class NotesIn(BaseModel):
    notes: Notes | None = Field(description="free text: no phone numbers or e-mails; null "
                                            "clears")


class NotesOut(BaseModel):
    contact_id: int
    notes: str | None


@router.put("/{contact_id}/notes", response_model=NotesOut, responses={
    403: {"model": Problem, "description": "(agents) contact notes are not shown to agents"},
    404: {"model": Problem, "description": "no such contact, or (agents) not one they were "
                                           "on a call with"}})
async def set_contact_notes(contact_id: ObjectId, body: NotesIn, principal: Agent, db: DbDep,
                            service: ServiceDep, request: Request) -> NotesOut:
    """The card's notes, from the desktop: agents may write them on the cards they may read
    (a caller they are or recently were on a call with), when admins show notes to agents.
    Audited (who, which contact, the length; never the text)."""
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    rules = await field_rules(db)
    viewer = _viewer(principal)
    if principal.is_agent:
        try:
            await check_agent_may_read(
                db, agent_name=principal.agent_name, numbers=[n.number for n in contact.numbers],
                live_numbers=service.pops.numbers_on_call(principal.interface),
                window=timedelta(hours=service.settings.agent_card_window_hours))
        except CardNotAllowed:
            raise HTTPException(404, "no such contact") from None
        if not rules.get(NOTES, BUILT_IN[NOTES]).agent_visible:
            raise HTTPException(403, "contact notes are not shown to agents")
    notes = body.notes.strip() if body.notes else None
    _check_policy(None, notes, None, rules)
    contact.notes = notes or None
    audit(db, username=principal.username, action="contact.notes", object_type="contact",
          object_id=contact_id, client=client_ip(request),
          details=f"length={len(contact.notes or '')}")
    await db.commit()
    return NotesOut(contact_id=contact_id, notes=card(contact, viewer, rules).get("notes"))


class CallContact(BaseModel):
    ending: Annotated[str, Field(min_length=4, max_length=4, pattern=r"^[0-9]{4}$",
                                 description="the last 4 digits of the number, as a masked "
                                             "number shows them")]


@router.post("/{contact_id}/call", response_model=CallStarted, status_code=202, responses={
    **errors(409, 503),
    404: {"model": Problem, "description": "no such contact or number, or (agents) not a "
                                           "contact they were on a call with"}})
async def call_contact(contact_id: ObjectId, body: CallContact, principal: Agent, db: DbDep,
                       service: ServiceDep) -> CallStarted:
    """Click-to-call one of a contact's numbers by its last 4 digits: agents see the other
    numbers of a card masked, and dial them without ever seeing them in full. Agents: the
    cards they may read."""
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    numbers = [n.number for n in contact.numbers]
    if principal.is_agent:
        try:
            await check_agent_may_read(
                db, agent_name=principal.agent_name, numbers=numbers,
                live_numbers=service.pops.numbers_on_call(principal.interface),
                window=timedelta(hours=service.settings.agent_card_window_hours))
        except CardNotAllowed:
            raise HTTPException(404, "no such contact") from None
    matching = sorted({n for n in numbers if n.endswith(body.ending)})
    if not matching:
        raise HTTPException(404, "the contact has no number ending so")
    if len(matching) > 1:
        raise HTTPException(409, "more than one of the contact's numbers ends so")
    return CallStarted(call_id=await place_click_to_call(service, principal, matching[0],
                                                         loc=None))


@router.delete("/{contact_id}", responses=errors(404))
async def delete_contact(contact_id: ObjectId, principal: Admin, db: DbDep, service: ServiceDep,
                         request: Request, forget: bool = False) -> dict[str, Any]:
    """`forget=true` erases the person: contact, numbers in call records (hashed), recordings."""
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    if forget:
        scrubbed = await forget_in_outbox(db, contact)  # before the numbers are erased
        erased = await forget_contact(db, contact, service.keys.forget)
        erased["outbox_events"] = scrubbed
    else:
        await db.delete(contact)
        erased = {}
    audit(db, username=principal.username,
          action="contact.forget" if forget else "contact.delete", object_type="contact",
          object_id=contact_id, client=client_ip(request), details=json.dumps(erased))
    await contact_changed(db, contact, "forgotten" if forget else "deleted")
    await db.commit()
    return {"deleted": contact_id, "forgotten": forget, **erased}


ColumnMapping = TypeAdapter(dict[str, str])


@router.post("/import", responses={**errors(413), 503: {
    "model": Problem, "description": "too many imports at once; see Retry-After"}})
async def import_contacts(
    principal: Supervisor, db: DbDep, service: ServiceDep, request: Request,
    file: Annotated[UploadFile, File(description=".csv or .xlsx")],
    mapping: Annotated[str | None, Form(description='JSON {"name": "ФИО", "phones": ...}',
                                        max_length=10_000, pattern=PLAIN_TEXT)] = None,
    region: Annotated[str | None, Form(max_length=2, pattern=r"^[A-Z]{2}$")] = None,
    on_duplicate: Annotated[Literal["skip", "merge"], Form()] = "skip",
    strict: Annotated[bool, Form(description="any bad row: import nothing")] = False,
) -> dict[str, Any]:
    """Parsed in a worker process (the event loop never parses), written in batches."""
    filename = file.filename or ""
    if not re.fullmatch(ONE_LINE, filename):
        raise invalid(("body", "file"), "the file name contains control characters")
    try:
        columns = ColumnMapping.validate_json(mapping) if mapping else None
    except ValidationError:
        raise invalid(("body", "mapping"), "must be a JSON object of column names (strings)"
                      ) from None
    try:
        with service.imports.take():
            async with import_files(service.settings.spool_dir) as (upload, spool):
                await asyncio.to_thread(_save_upload, file.file, upload)
                parsed = await service.workers.run(
                    parse_file, upload, filename, columns,
                    region or service.settings.default_region, spool, await field_rules(db))
                report = Report(errors=parsed.errors)
                if strict and parsed.errors:
                    return {"imported": False, **_summary(report)}
                try:
                    await apply(db, spooled(spool), on_duplicate=on_duplicate, report=report)
                    if strict and report.errors:
                        await db.rollback()
                        return {"imported": False, **_summary(report)}
                    audit(db, username=principal.username, action="contact.import",
                          object_type="contact", client=client_ip(request),
                          details=f"file={filename} created={report.created} "
                                  f"merged={report.merged}")
                    await db.commit()
                except Exception:
                    await db.rollback()
                    raise
                # its contact.changed events, staged in the import's transaction, into the
                # outbox (short chunks; the deliverer would find them too, a turn later)
                await release_or_log(service.sessions)
    except ImportTooLarge as exc:
        raise HTTPException(413, f"cannot import: {exc}") from None
    except ImportFileError as exc:
        raise invalid(("body", exc.field), f"cannot import: {exc}") from None
    return {"imported": True, **_summary(report)}


def _save_upload(source: BinaryIO, target: Path) -> None:
    """Copies the upload in 1 MiB chunks; refuses it past MAX_UPLOAD."""
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise ImportTooLarge(f"the file is over {MAX_UPLOAD // 2**20} MB")
            out.write(chunk)


@asynccontextmanager
async def import_files(spool_dir: Path) -> AsyncIterator[tuple[Path, Path]]:
    """The upload and the parsed rows, in a directory removed afterwards."""
    def make() -> Path:
        spool_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="import-", dir=spool_dir))

    work = await asyncio.to_thread(make)
    try:
        yield work / "upload", work / "rows.pickle"
    finally:
        await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)


def _summary(report: Report) -> dict[str, Any]:
    return {"created": report.created, "merged": report.merged,
            "skipped_duplicates": report.skipped_duplicates, "errors": report.errors}
