"""Dispositions per queue (or outbound project), wrap-up policies, and saving a call's wrap-up.

A queue without a list of its own (and a call without a queue: click-to-call) uses the list
and policy kept under the key DEFAULT_KEY ("*"). Domain errors only: the API maps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import policy
from callcenter.callbacks.models import Callback
from callcenter.callbacks.service import request_callback
from callcenter.calls.models import Call
from callcenter.dispositions.models import DEFAULT_KEY, CallWrapup, Disposition, WrapupPolicy
from callcenter.outbox.emit import emit
from callcenter.projects.models import Project, ProjectAttempt

# a wrap-up note is free text that agents see (of their own calls): no numbers, no e-mails
NOTE_RULE = policy.FieldRule(policy.Kind.FREE_TEXT, agent_visible=True)


class WrapupError(Exception):
    """Why a wrap-up or a disposition cannot be saved; `field` names the input at fault."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field or self.field


class CallNotFound(WrapupError):
    """No such call, or not one this agent was on (the same answer: nothing is revealed)."""


class InvalidWrapup(WrapupError):
    """Unknown or inactive code, a required code missing, a note the data policy refuses."""


class DispositionConflict(WrapupError):
    """A code or hotkey already used in the same list."""


@dataclass(frozen=True)
class CallbackRequest:
    """Call back the customer at `when`: mine (the agent's own) or the team's (the queue's)."""

    when: datetime
    assignee: Literal["mine", "team"] = "mine"


async def project_attempt(session: AsyncSession, linkedid: str) -> ProjectAttempt | None:
    """The outbound project attempt this call is, if it is one."""
    return await session.scalar(select(ProjectAttempt)
                                .where(ProjectAttempt.linkedid == linkedid))


async def scope_of(session: AsyncSession, call: Call) -> tuple[str, str]:
    """Whose list a call's wrap-up uses: its project's for a dialled attempt (the project's
    results and retry rules), else its queue's."""
    attempt = await project_attempt(session, call.linkedid)
    if attempt is not None:
        return ("project", str(attempt.project_id))
    return ("queue", call.queue or DEFAULT_KEY)


async def list_dispositions(session: AsyncSession, scope: str, key: str, *,
                            include_inactive: bool = False) -> list[Disposition]:
    """The scope's own list in display order; a queue without one gets the default list."""
    async def read(k: str) -> list[Disposition]:
        query = (select(Disposition)
                 .where(Disposition.scope == scope, Disposition.scope_key == k)
                 .order_by(Disposition.position, Disposition.id))
        if not include_inactive:
            query = query.where(Disposition.active.is_(True))
        return list(await session.scalars(query))

    own = await read(key)
    if own or key == DEFAULT_KEY or scope != "queue" or include_inactive:
        return own
    return await read(DEFAULT_KEY)


async def get_policy(session: AsyncSession, scope: str, key: str) -> WrapupPolicy:
    """The scope's policy, else the default one, else none required and no countdown (a
    project: its own wrap-up time, the one its dialler waits for the agent's result)."""
    for k in (key, DEFAULT_KEY):
        found = await session.get(WrapupPolicy, (scope, k))
        if found is not None:
            return found
    seconds = 0
    if scope == "project" and key.isdigit():
        seconds = await session.scalar(select(Project.wrapup_seconds)
                                       .where(Project.id == int(key))) or 0
    return WrapupPolicy(scope=scope, scope_key=key, required=False, seconds=seconds)


async def check_disposition(session: AsyncSession, disposition: Disposition) -> None:
    """Raises DispositionConflict when the code or the hotkey is taken in the same list."""
    same_list = select(Disposition).where(
        Disposition.scope == disposition.scope, Disposition.scope_key == disposition.scope_key)
    if disposition.id is not None:
        same_list = same_list.where(Disposition.id != disposition.id)
    for other in await session.scalars(same_list):
        if other.code == disposition.code:
            raise DispositionConflict(f"code {disposition.code!r} is already in this list",
                                      "code")
        if (disposition.hotkey is not None and disposition.active and other.active
                and other.hotkey == disposition.hotkey):
            raise DispositionConflict(f"hotkey {disposition.hotkey} is already "
                                      f"{other.code!r}'s in this list", "hotkey")


async def agent_call(session: AsyncSession, linkedid: str, agent: str | None) -> Call:
    """The call, if this agent was the one on it."""
    call = await session.scalar(select(Call).where(Call.linkedid == linkedid))
    if call is None or agent is None or call.agent != agent:
        raise CallNotFound("no call of yours with that linkedid")
    return call


def scope_of_queue(call: Call) -> tuple[str, str]:
    return ("queue", call.queue or DEFAULT_KEY)


def customer_number(call: Call) -> str | None:
    return call.called if call.direction == "outbound" else call.caller


async def save_wrapup(session: AsyncSession, *, linkedid: str, agent: str | None,
                      code: str | None, note: str | None,
                      callback: CallbackRequest | None,
                      now: datetime | None = None, only_project: bool = False) -> CallWrapup:
    """Creates or replaces the call's wrap-up (one per call), scheduling the callback if asked.
    The one way to record a disposition, inbound or outbound: for an outbound project's
    attempt the code comes from the project's list and feeds its result and retry rules in
    this same transaction (the agent's "call back at" wins over them), and the call record
    need not be written yet (`only_project`: nothing else is looked for). `agent` None: a
    supervisor on the attempt's agent's behalf (project attempts only). The caller commits
    (and audits)."""
    attempt = await project_attempt(session, linkedid)
    call: Call | None = None
    if attempt is None:
        if only_project:
            raise CallNotFound("no such attempt")
        call = await agent_call(session, linkedid, agent)
        scope, key = scope_of_queue(call)
    else:
        if agent is not None and attempt.agent != agent:
            raise CallNotFound("no call of yours with that linkedid")
        agent = agent or attempt.agent or ""
        scope, key = "project", str(attempt.project_id)
    assert agent is not None
    now = now or datetime.now(UTC)
    if code is not None:
        codes = {d.code for d in await list_dispositions(session, scope, key)}
        if code not in codes:
            raise InvalidWrapup(f"{code!r} is not a disposition of this call's list", "code")
    elif (await get_policy(session, scope, key)).required:
        raise InvalidWrapup(f"this {scope} requires a disposition", "code")
    if note is not None:
        note = note.strip() or None
    if note is not None and (reason := policy.check_value("note", note, NOTE_RULE)):
        raise InvalidWrapup(reason, "note")
    wrapup = await session.scalar(select(CallWrapup).where(CallWrapup.linkedid == linkedid))
    new = wrapup is None
    if wrapup is None:
        wrapup = CallWrapup(linkedid=linkedid, agent=agent)
        session.add(wrapup)
    wrapup.disposition_code, wrapup.note, wrapup.saved_at = code, note, now
    if attempt is not None:
        # the project dials the number again itself: no second (queue) callback
        from callcenter.projects.service import apply_disposition

        if callback is not None and callback.when <= now:
            raise InvalidWrapup("a callback is scheduled in the future", "callback.when")
        await apply_disposition(
            session, attempt, code=code, note=note,
            callback_at=callback.when if callback else None,
            callback_agent=(attempt.agent if callback and callback.assignee == "mine"
                            else None), now=now)
    elif callback is not None:
        assert call is not None
        wrapup.callback_id = (await schedule_callback(session, call, agent, callback, now)).id
    await session.flush()
    # for the CRM, in this transaction (hooks: outbox/catalogue.py, disposition.saved)
    await emit(session, "disposition.saved", {
        "linkedid": linkedid, "agent": agent, "disposition_code": code, "note": note,
        "callback_id": wrapup.callback_id, "saved_at": now, "replaced": not new},
        ordering_key=linkedid, agent=agent)
    return wrapup


async def schedule_callback(session: AsyncSession, call: Call, agent: str,
                            request: CallbackRequest, now: datetime) -> Callback:
    """The number's open callback (one per number), now due at the time asked and assigned."""
    number = customer_number(call)
    if number is None:
        raise InvalidWrapup("this call has no customer number to call back", "callback")
    if request.when <= now:
        raise InvalidWrapup("a callback is scheduled in the future", "callback.when")
    callback = await request_callback(session, number=number, queue=call.queue,
                                      source="wrapup", at=now, linkedid=call.linkedid)
    callback.due_at = request.when
    callback.assignee = agent if request.assignee == "mine" else None
    if callback.queue is None:
        callback.queue = call.queue
    return callback


async def wrapups_for(session: AsyncSession, linkedids: list[str]) -> dict[str, CallWrapup]:
    if not linkedids:
        return {}
    return {w.linkedid: w for w in await session.scalars(
        select(CallWrapup).where(CallWrapup.linkedid.in_(linkedids)))}


def shown_note(wrapup: CallWrapup | None, viewer: policy.Viewer,
               viewer_agent: str | None) -> str | None:
    """Agents see the notes of their own calls only, masked like any free text."""
    if wrapup is None or wrapup.note is None:
        return None
    if not viewer.sees_everything and wrapup.agent != viewer_agent:
        return None
    return policy.show(wrapup.note, NOTE_RULE, viewer)
