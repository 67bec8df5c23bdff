"""Contacts: CRUD, import from CSV/XLSX, and forgetting a customer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from callcenter.api.auth import Admin, Agent, Principal, Supervisor, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.audit.log import audit
from callcenter.contacts.access import CardNotAllowed, audit_card_read, check_agent_may_read
from callcenter.contacts.card import card, refused_values, rows_within_policy
from callcenter.contacts.forget import forget_contact
from callcenter.contacts.importer import (
    ImportFileError,
    Report,
    apply,
    parse_rows,
    read_table,
)
from callcenter.contacts.lookup import field_rules
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.phone import to_e164
from callcenter.policy import FieldRule, Viewer

router = APIRouter(prefix="/contacts", tags=["contacts"])
MAX_UPLOAD = 20 * 1024 * 1024


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=160)
    numbers: list[str] = Field(min_length=1)
    email: str | None = Field(None, max_length=160)
    notes: str | None = None
    vip: bool = False
    language: str | None = Field(None, max_length=8)
    recording_opt_out: bool = False
    fields: dict[str, str] = Field(default_factory=dict)


class ContactPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=160)
    numbers: list[str] | None = None
    email: str | None = None
    notes: str | None = None
    vip: bool | None = None
    language: str | None = None
    recording_opt_out: bool | None = None
    fields: dict[str, str] | None = None


def _numbers(raw: list[str], region: str) -> list[str]:
    out = []
    for number in raw:
        e164 = to_e164(number, region)
        if e164 is None:
            raise HTTPException(422, f"not a phone number: {number}")
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
async def list_contacts(principal: Supervisor, db: DbDep, q: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
    query = select(Contact).order_by(Contact.name, Contact.id)
    if q:
        query = query.outerjoin(ContactNumber).where(or_(
            Contact.name.ilike(f"%{q}%"), Contact.email.ilike(f"%{q}%"),
            ContactNumber.number.contains(q))).distinct()
    rules = await field_rules(db)
    return [card(c, _viewer(principal), rules)
            for c in await db.scalars(query.limit(limit).offset(offset))]


@router.post("", status_code=201)
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
    await db.commit()
    return card(contact, _viewer(principal), rules)


@router.get("/{contact_id}", responses={404: {"description": "no such contact, or (agents) "
                                                            "not one they were on a call with"}})
async def get_contact(contact_id: int, principal: Agent, db: DbDep, service: ServiceDep,
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


@router.patch("/{contact_id}")
async def update_contact(contact_id: int, body: ContactPatch, principal: Supervisor,
                         db: DbDep, service: ServiceDep, request: Request) -> dict[str, Any]:
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    changes = body.model_dump(exclude_unset=True)
    rules = await field_rules(db)
    _check_policy(changes.get("name"), changes.get("notes"), changes.get("fields"), rules)
    if "numbers" in changes:
        numbers = _numbers(changes.pop("numbers") or [], service.settings.default_region)
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
    await db.commit()
    return card(contact, _viewer(principal), rules)


@router.delete("/{contact_id}")
async def delete_contact(contact_id: int, principal: Admin, db: DbDep, service: ServiceDep,
                         request: Request, forget: bool = False) -> dict[str, Any]:
    """`forget=true` erases the person: contact, numbers in call records (hashed), recordings."""
    contact = await db.get(Contact, contact_id)
    if contact is None:
        raise HTTPException(404, "no such contact")
    if forget:
        erased = await forget_contact(db, contact, service.keys.forget)
    else:
        await db.delete(contact)
        erased = {}
    audit(db, username=principal.username,
          action="contact.forget" if forget else "contact.delete", object_type="contact",
          object_id=contact_id, client=client_ip(request), details=json.dumps(erased))
    await db.commit()
    return {"deleted": contact_id, "forgotten": forget, **erased}


@router.post("/import")
async def import_contacts(
    principal: Supervisor, db: DbDep, service: ServiceDep, request: Request,
    file: Annotated[UploadFile, File(description=".csv or .xlsx")],
    mapping: Annotated[str | None, Form(description='JSON {"name": "ФИО", "phones": ...}')] = None,
    region: Annotated[str | None, Form()] = None,
    on_duplicate: Annotated[Literal["skip", "merge"], Form()] = "skip",
    strict: Annotated[bool, Form(description="any bad row: import nothing")] = False,
) -> dict[str, Any]:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"file over {MAX_UPLOAD // 1024 // 1024} MB")
    try:
        columns = json.loads(mapping) if mapping else None
        if columns is not None and not isinstance(columns, dict):
            raise ImportFileError("mapping must be a JSON object")
        rows, errors = parse_rows(read_table(data, file.filename or ""), columns,
                                  region or service.settings.default_region)
    except (ImportFileError, json.JSONDecodeError) as exc:
        raise HTTPException(422, f"cannot import: {exc}") from None
    rows = rows_within_policy(rows, await field_rules(db), errors)
    report = Report(errors=errors)
    if strict and errors:
        return {"imported": False, **_summary(report)}
    try:
        await apply(db, rows, on_duplicate=on_duplicate, report=report)
        audit(db, username=principal.username, action="contact.import", object_type="contact",
              client=client_ip(request),
              details=f"file={file.filename} created={report.created} merged={report.merged}")
        await db.commit()
    except Exception:
        await db.rollback()
        raise
    return {"imported": True, **_summary(report)}


def _summary(report: Report) -> dict[str, Any]:
    return {"created": report.created, "merged": report.merged,
            "skipped_duplicates": report.skipped_duplicates, "errors": report.errors}
