"""Projects on the database: lists, do-not-call, claiming the next number, recording attempts.

Services raise domain errors (ProjectError and its kinds); the faces map them to HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.contacts.importer import Row
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.projects import core
from callcenter.projects.models import (
    DncNumber,
    Project,
    ProjectAgent,
    ProjectAttempt,
    ProjectEntry,
)

STATUSES = ("draft", "running", "paused", "stopped")
HOLD = timedelta(minutes=30)  # a preview card untouched this long goes back to the list
LOST = timedelta(hours=1)  # an attempt with no result this long: its call was lost
MODES = ("preview", "progressive")


class ProjectError(Exception):
    """A project operation refused: `field` names the input at fault (None: the state)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(ProjectError):
    pass


class Conflict(ProjectError):
    pass


def rules_of(project: Project) -> core.Rules:
    return core.Rules(
        retry={"busy": project.retry_busy, "no_answer": project.retry_no_answer,
               "congestion": project.retry_congestion, "failed": project.retry_failed,
               "abandoned": project.retry_no_answer},
        max_attempts=project.max_attempts,
        hours=core.Hours(project.hours_start, project.hours_end))


def zones_of(entry: ProjectEntry) -> tuple[str, ...]:
    return tuple(entry.timezones.split(","))


async def get_project(session: AsyncSession, project_id: int) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound("no such project")
    return project


async def agents_of(session: AsyncSession, project_id: int) -> list[str]:
    return list(await session.scalars(select(ProjectAgent.agent)
                                      .where(ProjectAgent.project_id == project_id)
                                      .order_by(ProjectAgent.agent)))


async def set_agents(session: AsyncSession, project_id: int, agents: Iterable[str]) -> None:
    await session.execute(ProjectAgent.__table__.delete()
                          .where(ProjectAgent.__table__.c.project_id == project_id))
    rows = [{"project_id": project_id, "agent": a} for a in dict.fromkeys(agents)]
    if rows:
        await session.execute(insert(ProjectAgent.__table__), rows)


def set_status(project: Project, action: Literal["start", "pause", "stop"]) -> None:
    """start: draft/paused -> running; pause: running -> paused; stop: for good."""
    if project.status == "stopped":
        raise Conflict("the project is stopped")
    project.status = {"start": "running", "pause": "paused", "stop": "stopped"}[action]


# --- do not call -------------------------------------------------------------------------

async def add_dnc(session: AsyncSession, number: str, project_id: int | None,
                  reason: str | None) -> None:
    """Adds the number (idempotent) and takes it out of every affected list at once."""
    exists_already = await session.scalar(select(DncNumber.id).where(
        DncNumber.number == number, DncNumber.project_id.is_(None) if project_id is None
        else DncNumber.project_id == project_id))
    if exists_already is None:
        session.add(DncNumber(number=number, project_id=project_id, reason=reason))
    query = update(ProjectEntry).where(ProjectEntry.phone == number,
                                       ProjectEntry.state == "queued")
    if project_id is not None:
        query = query.where(ProjectEntry.project_id == project_id)
    await session.execute(query.values(state="dnc"))


async def on_dnc(session: AsyncSession, project_id: int, number: str) -> bool:
    return await session.scalar(select(exists().where(
        DncNumber.number == number,
        or_(DncNumber.project_id.is_(None), DncNumber.project_id == project_id)))) or False


async def dnc_numbers(session: AsyncSession, project_id: int,
                      numbers: Iterable[str]) -> set[str]:
    wanted = set(numbers)
    if not wanted:
        return set()
    return set(await session.scalars(select(DncNumber.number).where(
        DncNumber.number.in_(wanted),
        or_(DncNumber.project_id.is_(None), DncNumber.project_id == project_id))))


# --- lists ---------------------------------------------------------------------------------

@dataclass
class ListReport:
    """What an import (or an addition from contacts) did, row by row where it matters."""

    added: int = 0
    merged: int = 0
    skipped_duplicates: list[dict[str, object]] = field(default_factory=list)
    matched_contacts: list[dict[str, object]] = field(default_factory=list)
    dnc: list[dict[str, object]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {"added": self.added, "merged": self.merged,
                "skipped_duplicates": self.skipped_duplicates,
                "matched_contacts": self.matched_contacts, "dnc": self.dnc,
                "errors": self.errors}


def _first_due(project: Project, phone: str, now: datetime) -> tuple[str, datetime | None]:
    zones = core.timezones_for(phone)
    return ",".join(zones), core.Hours(project.hours_start, project.hours_end).next_allowed(
        now, zones)


async def import_rows(session: AsyncSession, project: Project,
                      batches: AsyncIterable[list[Row]], *,
                      on_duplicate: Literal["skip", "merge"], report: ListReport,
                      now: datetime, progress: Callable[[int], None] | None = None) -> None:
    """Adds the parsed rows (contacts importer's Row) to the project's list a batch at a
    time: duplicates by phone or e-mail within the project skipped or merged, matches with
    stored contacts linked, do-not-call numbers listed but never queued. The caller commits."""
    done = 0
    async for batch in batches:
        await _import_batch(session, project, batch, on_duplicate, report, now)
        done += len(batch)
        if progress is not None:
            progress(done)


async def _import_batch(session: AsyncSession, project: Project, batch: list[Row],
                        on_duplicate: Literal["skip", "merge"], report: ListReport,
                        now: datetime) -> None:
    phones = {p for row in batch for p in row.phones}
    emails = {row.email for row in batch if row.email}
    entries = list(await session.scalars(select(ProjectEntry).where(
        ProjectEntry.project_id == project.id,
        or_(ProjectEntry.phone.in_(phones), ProjectEntry.email.in_(emails)))))
    by_phone = {e.phone: e for e in entries}
    by_email = {e.email: e for e in entries if e.email}
    contact_by_phone = dict((await session.execute(
        select(ContactNumber.number, ContactNumber.contact_id)
        .where(ContactNumber.number.in_(phones)))).all())
    contact_by_email: dict[str, int] = {}
    for email, contact_id in await session.execute(
            select(Contact.email, Contact.id).where(Contact.email.in_(emails))
            .order_by(Contact.id)):
        contact_by_email.setdefault(email, contact_id)
    blocked = await dnc_numbers(session, project.id, phones)
    for row in batch:
        duplicate = next((by_phone[p] for p in row.phones if p in by_phone), None) or (
            by_email.get(row.email) if row.email else None)
        if duplicate is not None:
            if on_duplicate == "skip":
                report.skipped_duplicates.append({"line": row.line, "entry_id": duplicate.id})
                continue
            duplicate.email = duplicate.email or row.email
            duplicate.fields = {**row.fields, **(duplicate.fields or {})}
            report.merged += 1
            continue
        phone = row.phones[0]
        contact_id = next((contact_by_phone[p] for p in row.phones if p in contact_by_phone),
                          None) or (contact_by_email.get(row.email) if row.email else None)
        if contact_id is not None:
            report.matched_contacts.append({"line": row.line, "contact_id": contact_id})
        zones, due = _first_due(project, phone, now)
        entry = ProjectEntry(project_id=project.id, contact_id=contact_id, name=row.name,
                             phone=phone, email=row.email,
                             fields={**row.fields, **({"notes": row.notes} if row.notes
                                                      else {})},
                             timezones=zones, state="queued" if due else "done",
                             next_at=due, last_result=None if due else "no_calling_hours")
        if phone in blocked:
            entry.state, entry.next_at = "dnc", None
            report.dnc.append({"line": row.line})
        session.add(entry)
        await session.flush()
        report.added += 1
        for p in row.phones:
            by_phone.setdefault(p, entry)
        if row.email:
            by_email.setdefault(row.email, entry)
    session.expunge_all()


async def add_contacts(session: AsyncSession, project: Project, contact_ids: list[int],
                       now: datetime) -> ListReport:
    """Existing contacts (e.g. from a search) into the list: their first number each."""
    report = ListReport()
    contacts = list(await session.scalars(select(Contact).where(Contact.id.in_(contact_ids))
                                          .order_by(Contact.id)))
    missing = set(contact_ids) - {c.id for c in contacts}
    report.errors += [{"contact_id": i, "errors": ["no such contact"]} for i in sorted(missing)]
    rows = []
    for contact in contacts:
        if not contact.numbers:
            report.errors.append({"contact_id": contact.id, "errors": ["no phone number"]})
            continue
        rows.append(Row(line=contact.id, name=contact.name,
                        phones=[n.number for n in contact.numbers], email=contact.email,
                        notes=None, vip=contact.vip, language=contact.language, fields={}))

    async def one() -> AsyncIterable[list[Row]]:
        yield rows

    await import_rows(session, project, one(), on_duplicate="skip", report=report, now=now)
    return report


# --- dialling --------------------------------------------------------------------------------

async def claim_next(session: AsyncSession, project: Project, now: datetime, *,
                     holder: str | None = None, limit: int = 20) -> ProjectEntry | None:
    """The next due number, marked "calling" in the caller's transaction (PostgreSQL: rows
    another dialler holds are skipped, not waited for). Numbers found out of hours or on a
    do-not-call list on the way are rescheduled or set aside, never returned."""
    rules = rules_of(project)
    if holder is not None:  # cards held in preview by agents gone away go back to the list
        await session.execute(update(ProjectEntry).where(
            ProjectEntry.project_id == project.id, ProjectEntry.state == "calling",
            ProjectEntry.held_by.is_not(None), ProjectEntry.held_by != holder,
            ProjectEntry.held_at < now - HOLD).values(state="queued", held_by=None,
                                                      held_at=None))
    for _ in range(limit):
        # the do-not-call check rides along: one round trip per number
        blocked = exists().where(
            DncNumber.number == ProjectEntry.phone,
            or_(DncNumber.project_id.is_(None), DncNumber.project_id == project.id))
        query = (select(ProjectEntry, blocked)
                 .where(ProjectEntry.project_id == project.id, ProjectEntry.state == "queued",
                        ProjectEntry.next_at <= now)
                 .order_by(ProjectEntry.next_at, ProjectEntry.id).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=ProjectEntry, skip_locked=True)
        row = (await session.execute(query)).first()
        if row is None:
            return None
        entry, listed = row
        why = core.may_dial(now=now, zones=zones_of(entry), hours=rules.hours,
                            attempts=entry.attempts, max_attempts=rules.max_attempts,
                            on_dnc=bool(listed))
        if why is None:
            entry.state, entry.held_by, entry.held_at = "calling", holder, now
            return entry
        if why == "out_of_hours":
            entry.next_at = rules.hours.next_allowed(now, zones_of(entry))
            if entry.next_at is None:
                entry.state, entry.last_result = "done", "no_calling_hours"
        elif why == "dnc":
            entry.state, entry.next_at = "dnc", None
        else:
            entry.state, entry.last_result = "done", why
    return None


async def held_card(session: AsyncSession, project_id: int, agent: str) -> ProjectEntry | None:
    return await session.scalar(select(ProjectEntry).where(
        ProjectEntry.project_id == project_id, ProjectEntry.held_by == agent,
        ProjectEntry.state == "calling"))


def skip(entry: ProjectEntry, reason: str, later_minutes: int | None, now: datetime,
         project: Project) -> None:
    """An agent passes a card in preview: for good, or back in the list later."""
    entry.held_by, entry.held_at, entry.skip_reason = None, None, reason
    if later_minutes is None:
        entry.state = "skipped"
        return
    entry.state = "queued"
    entry.next_at = rules_of(project).hours.next_allowed(
        now + timedelta(minutes=later_minutes), zones_of(entry))


async def start_attempt(session: AsyncSession, entry: ProjectEntry, *, linkedid: str,
                        agent: str | None, mode: str, now: datetime) -> ProjectAttempt:
    entry.attempts += 1
    entry.state, entry.held_by = "calling", None  # the attempt names the agent now
    attempt = ProjectAttempt(project_id=entry.project_id, entry_id=entry.id,
                             attempt=entry.attempts, linkedid=linkedid, agent=agent, mode=mode,
                             started_at=now)
    session.add(attempt)
    await session.flush()
    return attempt


async def attempt_by_linkedid(session: AsyncSession, linkedid: str) -> ProjectAttempt:
    attempt = await session.scalar(select(ProjectAttempt)
                                   .where(ProjectAttempt.linkedid == linkedid))
    if attempt is None:
        raise NotFound("no such attempt")
    return attempt


async def finish_attempt(session: AsyncSession, linkedid: str, *, result: str,
                         now: datetime, answered_at: datetime | None = None) -> ProjectAttempt:
    """The channel's result. Unanswered: the number is scheduled now. Answered (reached the
    agent): it waits for the agent's disposition (or the end of wrap-up, `expire_wrapups`)."""
    attempt = await attempt_by_linkedid(session, linkedid)
    if attempt.result is not None:
        return attempt  # already known (events repeat after a reconnect)
    attempt.result, attempt.ended_at = result, now
    attempt.answered_at = answered_at
    entry = await session.get(ProjectEntry, attempt.entry_id)
    assert entry is not None
    entry.last_result = result
    if result != "answered" or attempt.disposition is not None:
        await _schedule(session, entry, attempt, now)
    return attempt


async def disposition_rule(session: AsyncSession, project_id: int,
                           code: str) -> core.DispositionRule:
    from callcenter.dispositions.service import list_dispositions

    for d in await list_dispositions(session, "project", str(project_id)):
        if d.code == code:
            return core.DispositionRule(d.code, d.is_success, d.closes_number,
                                        d.retry_after_minutes)
    raise ProjectError("not a disposition of this project", field="code")


async def apply_disposition(session: AsyncSession, attempt: ProjectAttempt, *,
                            code: str | None, note: str | None,
                            callback_at: datetime | None, callback_agent: str | None,
                            now: datetime) -> None:
    """The agent's result for an attempt, from the call's wrap-up (dispositions'
    `save_wrapup`, which has checked the code against this project's list and writes the
    call record's wrap-up): schedules the number when the call is over, the agent's
    "call back at" winning over the retry rules."""
    already = attempt.disposition is not None
    attempt.disposition, attempt.note, attempt.callback_at = code, note, callback_at
    entry = await session.get(ProjectEntry, attempt.entry_id)
    assert entry is not None
    entry.disposition = code
    entry.callback_agent = callback_agent if callback_at else None
    if attempt.result is not None and (not already or entry.state != "calling"):
        await _schedule(session, entry, attempt, now)


async def _schedule(session: AsyncSession, entry: ProjectEntry, attempt: ProjectAttempt,
                    now: datetime) -> None:
    project = await get_project(session, entry.project_id)
    rule = (await disposition_rule(session, project.id, attempt.disposition)
            if attempt.disposition else None)
    step = core.after_attempt(rules_of(project), result=attempt.result or "failed",
                              attempts=entry.attempts, now=now, zones=zones_of(entry),
                              disposition=rule, callback_at=attempt.callback_at)
    entry.state, entry.next_at = step.state, step.next_at
    entry.held_by = entry.held_at = None
    entry.callback_at = attempt.callback_at if step.why == "callback" else None
    entry.success = bool(rule and rule.is_success)


async def expire_wrapups(session: AsyncSession, now: datetime) -> list[str]:
    """Answered attempts whose agent gave no result within the project's wrap-up time:
    the number is scheduled as plainly answered. Returns the agents freed."""
    rows = (await session.execute(
        select(ProjectAttempt, Project.wrapup_seconds)
        .join(Project, Project.id == ProjectAttempt.project_id)
        .join(ProjectEntry, and_(ProjectEntry.id == ProjectAttempt.entry_id,
                                 ProjectEntry.state == "calling"))
        .where(ProjectAttempt.result == "answered", ProjectAttempt.disposition.is_(None)))).all()
    freed = []
    for attempt, seconds in rows:
        if attempt.ended_at is not None and attempt.ended_at + timedelta(seconds=seconds) <= now:
            entry = await session.get(ProjectEntry, attempt.entry_id)
            assert entry is not None
            await _schedule(session, entry, attempt, now)
            freed.append(attempt.agent or "")
    return freed


async def expire_lost(session: AsyncSession, now: datetime, keep: set[str]) -> int:
    """Attempts still without a result long after they began, and not among the calls the
    dialler follows (the service restarted mid-call): failed, and their numbers scheduled."""
    lost = list(await session.scalars(select(ProjectAttempt).where(
        ProjectAttempt.result.is_(None), ProjectAttempt.started_at < now - LOST)))
    count = 0
    for attempt in lost:
        if attempt.linkedid not in keep:
            await finish_attempt(session, attempt.linkedid, result="failed", now=now)
            count += 1
    return count


async def in_wrapup(session: AsyncSession, agents: Iterable[str], now: datetime) -> set[str]:
    """Agents whose last answered project call still waits for their result (wrap-up)."""
    names = list(agents)
    if not names:
        return set()
    rows = (await session.execute(
        select(ProjectAttempt.agent, ProjectAttempt.ended_at, Project.wrapup_seconds)
        .join(Project, Project.id == ProjectAttempt.project_id)
        .join(ProjectEntry, and_(ProjectEntry.id == ProjectAttempt.entry_id,
                                 ProjectEntry.state == "calling"))
        .where(ProjectAttempt.agent.in_(names), ProjectAttempt.result == "answered",
               ProjectAttempt.disposition.is_(None)))).all()
    return {agent for agent, ended, seconds in rows
            if ended is None or ended + timedelta(seconds=seconds) > now}
