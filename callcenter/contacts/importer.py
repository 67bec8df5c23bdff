"""Contact import from CSV and XLSX: mapping, E.164 normalisation, duplicates, per-row errors.

Reading, checking and normalising (`parse_file`) is pure and runs in a worker process, away
from the loop that answers Asterisk: it streams the file (CSV line by line, XLSX in openpyxl's
read-only mode after the zip is checked for a decompression bomb) and writes the good rows, in
batches, to a spool file. Applying them (`apply`) reads that spool batch by batch, one query
per batch for duplicates, all in one transaction, so a failure leaves nothing half-imported.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import pickle
import re
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.models import Contact, ContactNumber
from callcenter.limits import column_length
from callcenter.outbox.contacts import contact_changed_event
from callcenter.outbox.staged import stage
from callcenter.phone import to_e164

if TYPE_CHECKING:
    from callcenter.policy import FieldRule

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
# An XLSX is a zip: what it may expand to, in all and per member, before anything is parsed.
# A real contact list compresses 5-15 times; the bomb that froze the service, 250 times.
MAX_XLSX_EXPANDED = 200 * 1024 * 1024
MAX_XLSX_RATIO = 100
T = TypeVar("T")
BATCH_ROWS = 200  # rows per spool batch and per duplicate query


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, no header), or the mapping does
    not fit it: `field` says which of the two."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


class ImportTooLarge(ImportFileError):
    """The file is, or would expand to, more than the service accepts."""


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


@dataclass(frozen=True)
class Parsed:
    """What a worker made of a file: good rows spooled in batches, bad rows reported."""

    spool: Path
    rows: int
    errors: list[dict[str, object]]


def parse_file(path: Path, filename: str, mapping: dict[str, str] | None,
               default_region: str, spool: Path,
               rules: Mapping[str, FieldRule] | None = None) -> Parsed:
    """Reads, checks and normalises a whole file with bounded memory (a batch at a time);
    with `rules`, rows the data policy refuses are bad rows too. CPU-bound: meant for a
    worker process."""
    try:
        return _parse_file(path, filename, mapping, default_region, spool, rules)
    except MemoryError:
        raise ImportTooLarge("the file needs more memory than an import may use") from None


def _parse_file(path: Path, filename: str, mapping: dict[str, str] | None,
                default_region: str, spool: Path,
                rules: Mapping[str, FieldRule] | None) -> Parsed:
    from callcenter.contacts.card import refused_values  # card imports Row from here

    table = iter_table(path, filename)
    header = next(table, None)
    if header is None:
        raise ImportFileError("the file is empty")
    parser = RowParser(header, mapping, default_region)
    errors: list[dict[str, object]] = []
    good = 0
    with spool.open("wb") as out:
        batch: list[Row] = []
        for line, cells in enumerate(table, start=2):
            if line > MAX_ROWS + 1:
                raise ImportTooLarge(f"more than {MAX_ROWS} rows")
            row = parser.parse(line, cells)
            if isinstance(row, Row) and rules is not None and (refused := refused_values(
                    name=row.name, notes=row.notes, fields=row.fields, rules=rules)):
                row = {"line": line, "errors": list(refused.values())}
            if isinstance(row, Row):
                batch.append(row)
            else:
                errors.append(row)
            if len(batch) == BATCH_ROWS:
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                good += len(batch)
                batch = []
        if batch:
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            good += len(batch)
    return Parsed(spool, good, errors)


def read_batches(spool: Path) -> Iterator[list[Row]]:
    """The spooled rows, a batch at a time."""
    with spool.open("rb") as file:
        while True:
            try:
                yield pickle.load(file)
            except EOFError:
                return


def iter_table(path: Path, filename: str) -> Iterator[list[str]]:
    """Non-empty rows of cells as text, header first; streamed."""
    if filename.lower().endswith(".xlsx"):
        check_xlsx(path)
        return _read_xlsx(path)
    if filename.lower().endswith((".csv", ".txt")):
        return _read_csv(path)
    raise ImportFileError("expected a .csv or .xlsx file")


def check_xlsx(path: Path) -> None:
    """Refuses a decompression bomb from the zip directory alone, before expanding anything.
    (zipfile checks each member's CRC and size against the directory while reading.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"not a readable XLSX file: {exc.__class__.__name__}") from None
    expanded = sum(m.file_size for m in members)
    if expanded > MAX_XLSX_EXPANDED:
        raise ImportTooLarge(f"the XLSX expands to {expanded // 2**20} MB, over the "
                             f"{MAX_XLSX_EXPANDED // 2**20} MB limit")
    for member in members:
        if member.file_size > 2**20 and member.file_size > MAX_XLSX_RATIO * max(
                member.compress_size, 1):
            raise ImportFileError(
                f"the XLSX member {member.filename[:60]} is compressed "
                f"{member.file_size // max(member.compress_size, 1)} times, over the limit of "
                f"{MAX_XLSX_RATIO} (a decompression bomb?)")


def _read_csv(path: Path) -> Iterator[list[str]]:
    encoding = _csv_encoding(path)
    with path.open(encoding=encoding, newline="") as file:
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                file.read(4096), delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        file.seek(0)
        for row in csv.reader(file, dialect):
            if any(c.strip() for c in row):
                yield row


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as such, else Windows-1251."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as file:
        try:
            while chunk := file.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            return "cp1251"  # every byte sequence is valid cp1251


def _read_xlsx(path: Path) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    with path.open("rb") as file:  # a file, not a name: openpyxl judges names by extension
        try:
            book = load_workbook(file, read_only=True, data_only=True)
            sheet = book.worksheets[0]
        except Exception as exc:
            raise ImportFileError(f"not a readable XLSX file: {exc.__class__.__name__}") from None
        try:
            for values in sheet.iter_rows(values_only=True):
                cells = ["" if v is None else _cell(v) for v in values]
                if any(c.strip() for c in cells):
                    yield cells
        finally:
            book.close()


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers
    return str(value)


class RowParser:
    """Turns one row of cells into a Row, or into the list of what is wrong with it."""

    def __init__(self, header: list[str], mapping: dict[str, str] | None,
                 default_region: str) -> None:
        self.header = [h.strip() for h in header]
        if any("\x00" in h for h in self.header):
            raise ImportFileError("a column header contains a NUL character")
        self.columns = _columns(self.header, mapping)
        if "name" not in self.columns.values() or "phones" not in self.columns.values():
            raise ImportFileError("no name or phone column: give a mapping")
        self.region = default_region

    def parse(self, line: int, cells: list[str]) -> Row | dict[str, object]:
        header = self.header
        values: dict[str, str] = {}
        extra: dict[str, str] = {}
        for index, cell in enumerate(cells):
            if index >= len(header):
                break
            target = self.columns.get(index)
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
                e164 = to_e164(raw, self.region)
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
            return {"line": line, "errors": problems}
        return Row(line=line, name=name, phones=list(dict.fromkeys(phones)),
                   email=email.lower() if email else None,
                   notes=values.get("notes") or None,
                   vip=values.get("vip", "").strip().lower() in ("1", "yes", "true", "да",
                                                                 "vip", "y"),
                   language=(values.get("language") or "").strip().lower()[:8] or None,
                   fields=extra)


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


async def spooled(spool: Path) -> AsyncIterator[list[Row]]:
    """The spooled batches, each read off the event loop."""
    batches = read_batches(spool)
    try:
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            yield batch
    finally:
        batches.close()


@dataclass(eq=False)
class NewContact:
    """A contact this import creates: plain data (ORM objects cost the loop ten times more)."""

    name: str
    email: str | None
    notes: str | None
    vip: bool
    language: str | None
    fields: dict[str, str]
    numbers: list[str]
    id: int = 0


_ANALYZE_AT = frozenset({1, 4, 16, 64, 256, 1024})  # batches into an import


async def aenumerate(items: AsyncIterable[T]) -> AsyncIterator[tuple[int, T]]:
    count = 0
    async for item in items:
        yield count, item
        count += 1


# A contact already in the database (its id) or one this batch creates.
Ref = int | NewContact


async def apply(session: AsyncSession, batches: AsyncIterable[list[Row]], *,
                on_duplicate: Literal["skip", "merge"], report: Report,
                progress: Callable[[int], None] | None = None) -> None:
    """Creates or merges contacts a batch at a time (two queries and one flush per batch);
    the caller commits (or rolls back) the whole import, then releases its staged events
    (`callcenter.outbox.staged.release`)."""
    numbers: dict[str, Ref] = {}  # what this import has seen so far -> its contact
    emails: dict[str, Ref] = {}
    done = 0
    postgresql = session.get_bind().dialect.name == "postgresql"
    async for count, batch in aenumerate(batches):
        if postgresql and count in _ANALYZE_AT:
            # PostgreSQL plans without statistics for the rows this transaction added: past
            # ~40k of them it scanned the whole table for each batch's e-mails (0.2-0.4 s a
            # batch). ANALYZE in the transaction counts them: index scans again (1.4 ms).
            await session.execute(text("ANALYZE contacts, contact_numbers"))
        await _apply_batch(session, batch, numbers, emails, on_duplicate, report)
        done += len(batch)
        if progress is not None:
            progress(done)


async def _apply_batch(session: AsyncSession, batch: list[Row], numbers: dict[str, Ref],
                       emails: dict[str, Ref], on_duplicate: Literal["skip", "merge"],
                       report: Report) -> None:
    wanted = {n for row in batch for n in row.phones}
    # `wanted - numbers.keys()` would copy every number seen so far (a set minus a dict view
    # walks the view): 3 ms a batch at 100k rows, on the loop. Membership tests, per row.
    stored_numbers: dict[str, Ref] = dict((await session.execute(
        select(ContactNumber.number, ContactNumber.contact_id)
        .where(ContactNumber.number.in_({n for n in wanted if n not in numbers})))).all())
    stored_emails: dict[str, Ref] = {}
    for email, contact_id in await session.execute(
            select(Contact.email, Contact.id).order_by(Contact.id)
            .where(Contact.email.in_({r.email for r in batch
                                      if r.email and r.email not in emails}))):
        stored_emails.setdefault(email, contact_id)
    loaded: dict[int, Contact] = {}
    if on_duplicate == "merge":
        ids = {ref for ref in (*stored_numbers.values(), *stored_emails.values(),
                               *(numbers.get(n) for n in wanted),
                               *(emails.get(r.email or "") for r in batch))
               if isinstance(ref, int)}
        loaded = {c.id: c for c in await session.scalars(
            select(Contact).where(Contact.id.in_(ids)))}
    created: list[NewContact] = []
    merged: dict[int, Contact] = {}  # stored contacts this batch adds to, in line order
    skipped: list[tuple[int, Ref]] = []
    for row in batch:
        owner = _owner(row, numbers, emails, stored_numbers, stored_emails)
        if owner is not None and on_duplicate == "skip":
            skipped.append((row.line, owner))
        elif owner is not None:
            owners = {_key(owner)} | {_key(ref) for n in row.phones
                      if (ref := numbers.get(n, stored_numbers.get(n))) is not None}
            if len(owners) > 1:
                report.errors.append({"line": row.line, "errors": [
                    "its numbers belong to different contacts: not merged"]})
                continue
            if isinstance(owner, int):
                merged.setdefault(owner, loaded[owner])
            _merge(loaded[owner] if isinstance(owner, int) else owner, row)
            report.merged += 1
        else:
            owner = NewContact(name=row.name, email=row.email, notes=row.notes, vip=row.vip,
                               language=row.language, fields=row.fields, numbers=row.phones)
            created.append(owner)
        for number in row.phones:
            numbers.setdefault(number, owner)
        if row.email:
            emails.setdefault(row.email, owner)
    await session.flush()  # the merges
    await _insert(session, created)
    report.created += len(created)
    # one contact.changed per contact the batch wrote, from what is in memory already (no
    # query more), staged in the import's transaction: the caller releases them after its
    # commit (outbox/staged.py), never under the outbox's lock for the whole import
    await stage(session, [*(contact_changed_event(c, "created") for c in created),
                              *(contact_changed_event(c, "updated") for c in merged.values())])
    report.skipped_duplicates += [{"line": line, "contact_id": _id(ref)} for line, ref in skipped]
    for row in batch:  # only ids outlive the batch: memory stays bounded
        for seen, key in [*((numbers, n) for n in row.phones), (emails, row.email or "")]:
            if isinstance(ref := seen.get(key), NewContact):
                seen[key] = ref.id
    session.expunge_all()


async def _insert(session: AsyncSession, contacts: list[NewContact]) -> None:
    """New contacts in two multi-row statements, not through the ORM's unit of work (which
    cost the event loop ~100 ms per 500 contacts)."""
    if not contacts:
        return
    table = Contact.__table__
    ids = await session.scalars(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [{"name": c.name, "email": c.email, "notes": c.notes, "vip": c.vip,
          "language": c.language, "fields": c.fields, "recording_opt_out": False}
         for c in contacts])
    for contact, contact_id in zip(contacts, ids, strict=True):
        contact.id = contact_id
    await session.execute(insert(ContactNumber.__table__), [
        {"contact_id": c.id, "number": n} for c in contacts for n in c.numbers])


def _owner(row: Row, numbers: dict[str, Ref], emails: dict[str, Ref],
           stored_numbers: dict[str, Ref], stored_emails: dict[str, Ref]) -> Ref | None:
    """The contact a row duplicates: one of this file first, then one stored before."""
    for seen_numbers, seen_emails in ((numbers, emails), (stored_numbers, stored_emails)):
        for number in row.phones:
            if number in seen_numbers:
                return seen_numbers[number]
        if row.email and row.email in seen_emails:
            return seen_emails[row.email]
    return None


def _key(ref: Ref) -> object:
    return ref if isinstance(ref, int) else id(ref)


def _id(ref: Ref) -> int:
    return ref if isinstance(ref, int) else ref.id


def _merge(contact: Contact | NewContact, row: Row) -> None:
    """Adds what is new; never overwrites what is there."""
    if isinstance(contact, NewContact):
        contact.numbers = list(dict.fromkeys([*contact.numbers, *row.phones]))
    else:
        known = {n.number for n in contact.numbers}
        contact.numbers.extend(ContactNumber(number=n) for n in row.phones if n not in known)
    contact.email = contact.email or row.email
    contact.language = contact.language or row.language
    contact.vip = contact.vip or row.vip
    if row.notes and row.notes not in (contact.notes or ""):
        contact.notes = f"{contact.notes}\n{row.notes}" if contact.notes else row.notes
    contact.fields = {**row.fields, **(contact.fields or {})}
