"""Contact import from CSV and XLSX: mapping, E.164 normalisation, duplicates, per-row errors.

Parsing and checking are pure (rows in, a plan out); applying the plan is one transaction, so
a failure leaves nothing half-imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.models import Contact, ContactNumber
from callcenter.limits import column_length
from callcenter.phone import to_e164

# Header names understood without a mapping (lower-cased, spaces and dashes as "_").
AUTO_COLUMNS = {
    "name": "name", "full_name": "name", "fio": "name", "фио": "name", "имя": "name",
    "phone": "phones", "phones": "phones", "number": "phones", "mobile": "phones",
    "телефон": "phones", "email": "email", "e_mail": "email", "mail": "email",
    "notes": "notes", "note": "notes", "comment": "notes", "vip": "vip",
    "language": "language", "lang": "language",
}
TARGETS = {"name", "phones", "email", "notes", "vip", "language"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SPLIT_PHONES = re.compile(r"[;,/]|\s{2,}")
MAX_ROWS = 200_000


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, no header), or the mapping does
    not fit it: `field` says which of the two."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Row:
    line: int  # 1-based, as a spreadsheet user counts, header included
    name: str
    phones: list[str]
    email: str | None
    notes: str | None
    vip: bool
    language: str | None
    fields: dict[str, str]


@dataclass
class Report:
    created: int = 0
    merged: int = 0
    skipped_duplicates: list[dict[str, object]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """Rows of cells as text, header first."""
    if filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    if filename.lower().endswith((".csv", ".txt")):
        return _read_csv(data)
    raise ImportFileError("expected a .csv or .xlsx file")


def _read_csv(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("the CSV is neither UTF-8 nor Windows-1251")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [row for row in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in row)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(f"not a readable XLSX file: {exc.__class__.__name__}") from None
    sheet = book.worksheets[0]
    rows = []
    for values in sheet.iter_rows(values_only=True):
        cells = ["" if v is None else _cell(v) for v in values]
        if any(c.strip() for c in cells):
            rows.append(cells)
    book.close()
    return rows


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers
    return str(value)


def parse_rows(table: list[list[str]], mapping: dict[str, str] | None,
               default_region: str) -> tuple[list[Row], list[dict[str, object]]]:
    """(good rows, errors). `mapping`: target -> column header; others become card fields."""
    if not table:
        raise ImportFileError("the file is empty")
    if len(table) > MAX_ROWS + 1:
        raise ImportFileError(f"more than {MAX_ROWS} rows")
    header = [h.strip() for h in table[0]]
    if any("\x00" in h for h in header):
        raise ImportFileError("a column header contains a NUL character")
    columns = _columns(header, mapping)
    if "name" not in columns.values() or "phones" not in columns.values():
        raise ImportFileError("no name or phone column: give a mapping")
    rows, errors = [], []
    for offset, cells in enumerate(table[1:], start=2):
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        for index, cell in enumerate(cells):
            if index >= len(header):
                break
            target = columns.get(index)
            if target:
                values[target] = (values.get(target, "") + " " + cell).strip()
            elif cell.strip() and header[index]:
                extra[header[index]] = cell.strip()
        problems = []
        name = values.get("name", "").strip()
        if not name:
            problems.append("no name")
        phones, bad = [], []
        for raw in _SPLIT_PHONES.split(values.get("phones", "")):
            if raw.strip():
                e164 = to_e164(raw, default_region)
                (phones if e164 else bad).append(e164 or raw.strip())
        if bad:
            problems.append(f"not a phone number: {', '.join(bad)}")
        if not phones and not bad:
            problems.append("no phone number")
        email = values.get("email", "").strip() or None
        if email and not _EMAIL.match(email):
            problems.append(f"not an e-mail address: {email}")
        problems += _too_long(name=name, email=email or "")
        if any("\x00" in cell for cell in cells):
            problems.append("a cell contains a NUL character")
        if problems:
            errors.append({"line": offset, "errors": problems})
            continue
        rows.append(Row(line=offset, name=name, phones=list(dict.fromkeys(phones)),
                        email=email.lower() if email else None,
                        notes=values.get("notes") or None,
                        vip=values.get("vip", "").strip().lower() in ("1", "yes", "true", "да",
                                                                      "vip", "y"),
                        language=(values.get("language") or "").strip().lower()[:8] or None,
                        fields=extra))
    return rows, errors


_LENGTHS = {"name": column_length(Contact.name), "email": column_length(Contact.email)}


def _too_long(**values: str) -> list[str]:
    return [f"{field} longer than {_LENGTHS[field]} characters"
            for field, value in values.items() if len(value) > _LENGTHS[field]]


def _columns(header: list[str], mapping: dict[str, str] | None) -> dict[int, str]:
    if mapping:
        unknown = set(mapping) - TARGETS
        if unknown:
            raise ImportFileError(f"unknown mapping targets: {', '.join(sorted(unknown))}",
                                  field="mapping")
        missing = [column for column in mapping.values() if column not in header]
        if missing:
            raise ImportFileError(f"mapped columns not in the file: {', '.join(missing)}",
                                  field="mapping")
        return {header.index(column): target for target, column in mapping.items()}
    out = {}
    for index, name in enumerate(header):
        key = re.sub(r"[\s-]+", "_", name.strip().lower())
        if key in AUTO_COLUMNS and AUTO_COLUMNS[key] not in out.values():
            out[index] = AUTO_COLUMNS[key]
    return out


async def apply(session: AsyncSession, rows: Iterable[Row], *,
                on_duplicate: Literal["skip", "merge"], report: Report,
                progress: Callable[[int], None] | None = None) -> None:
    """Creates or merges contacts; the caller commits (or rolls back) the whole import."""
    by_number: dict[str, Contact] = {}
    by_email: dict[str, Contact] = {}
    for done, row in enumerate(rows, start=1):
        owners = await _owners(session, row, by_number, by_email)
        existing = owners[0] if owners else None
        if len(owners) > 1 and on_duplicate == "merge":
            ids = ", ".join(str(c.id) for c in owners)
            report.errors.append({"line": row.line, "errors": [
                f"its numbers belong to different contacts ({ids}): merge those first"]})
            continue
        if existing is not None and on_duplicate == "skip":
            report.skipped_duplicates.append({"line": row.line, "contact_id": existing.id})
        elif existing is not None:
            _merge(existing, row)
            report.merged += 1
        else:
            contact = Contact(name=row.name, email=row.email, notes=row.notes, vip=row.vip,
                              language=row.language, fields=row.fields,
                              numbers=[ContactNumber(number=n) for n in row.phones])
            session.add(contact)
            await session.flush()
            existing = contact
            report.created += 1
        for number in row.phones:
            by_number.setdefault(number, existing)
        if row.email:
            by_email.setdefault(row.email, existing)
        if progress is not None:
            progress(done)


async def _owners(session: AsyncSession, row: Row, by_number: dict[str, Contact],
                  by_email: dict[str, Contact]) -> list[Contact]:
    """The contacts the row is a duplicate of: those holding its numbers, else its e-mail.
    More than one means the row would join two people."""
    owners = {by_number[n].id: by_number[n] for n in row.phones if n in by_number}
    unseen = [n for n in row.phones if n not in by_number]
    if unseen:
        for contact in await session.scalars(
                select(Contact).where(Contact.id.in_(
                    select(ContactNumber.contact_id).where(ContactNumber.number.in_(unseen))))
                .order_by(Contact.id)):
            owners.setdefault(contact.id, contact)
    if owners:
        return list(owners.values())
    if row.email and row.email in by_email:
        return [by_email[row.email]]
    if row.email:
        found = await session.scalar(select(Contact).where(Contact.email == row.email).limit(1))
        return [found] if found is not None else []
    return []


def _merge(contact: Contact, row: Row) -> None:
    """Adds what is new; never overwrites what is there."""
    known = {n.number for n in contact.numbers}
    contact.numbers.extend(ContactNumber(number=n) for n in row.phones if n not in known)
    contact.email = contact.email or row.email
    contact.language = contact.language or row.language
    contact.vip = contact.vip or row.vip
    if row.notes and row.notes not in (contact.notes or ""):
        contact.notes = f"{contact.notes}\n{row.notes}" if contact.notes else row.notes
    contact.fields = {**row.fields, **(contact.fields or {})}
