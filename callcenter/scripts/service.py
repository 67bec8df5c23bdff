"""Scripts: versions, checking a script's graph, walking it per call, rendering a step.

A step's text names the contact's fields in braces ("Добрый день, {name}!"); each is filled
in through the data policy (callcenter/policy.py) for the viewer, so an agent's script never
shows what their card would hide: a hidden value reads "…".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter import policy
from callcenter.scripts.models import QueueScript, Script, ScriptAnswer, ScriptRun, ScriptVersion

HIDDEN = "…"
_PLACEHOLDER = re.compile(r"\{([^\W\d][\w.-]{0,59})\}")


class ScriptError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ScriptNotFound(ScriptError):
    pass


def check_steps(steps: list[dict[str, Any]]) -> None:
    """Every step id unique, every `next` (of a step or a choice) an existing step."""
    ids = [s["id"] for s in steps]
    seen: set[str] = set()
    for index, step_id in enumerate(ids):
        if step_id in seen:
            raise ScriptError(f"step {index}: id {step_id!r} used twice", "steps")
        seen.add(step_id)
    for index, step in enumerate(steps):
        targets = [step.get("next")] + [c.get("next") for c in step.get("choices") or []]
        for target in targets:
            if target is not None and target not in seen:
                raise ScriptError(f"step {index}: next step {target!r} does not exist",
                                  "steps")


async def create(session: AsyncSession, name: str, steps: list[dict[str, Any]],
                 author: str) -> ScriptVersion:
    check_steps(steps)
    if await session.scalar(select(Script.id).where(Script.name == name)) is not None:
        raise ScriptError("a script of this name exists", "name")
    script = Script(name=name)
    session.add(script)
    await session.flush()
    version = ScriptVersion(script_id=script.id, version=1, steps=steps, author=author)
    session.add(version)
    await session.flush()
    return version


async def new_version(session: AsyncSession, script_id: int, steps: list[dict[str, Any]],
                      author: str) -> ScriptVersion:
    """Edits never change a saved version: calls keep the one they used."""
    check_steps(steps)
    current = await latest(session, script_id)
    version = ScriptVersion(script_id=script_id, version=current.version + 1, steps=steps,
                            author=author)
    session.add(version)
    await session.flush()
    return version


async def latest(session: AsyncSession, script_id: int,
                 version: int | None = None) -> ScriptVersion:
    query = select(ScriptVersion).where(ScriptVersion.script_id == script_id)
    if version is not None:
        query = query.where(ScriptVersion.version == version)
    found = await session.scalar(query.order_by(ScriptVersion.version.desc()).limit(1))
    if found is None:
        raise ScriptNotFound("no such script")
    return found


async def script_name(session: AsyncSession, script_id: int) -> str:
    return await session.scalar(select(Script.name).where(Script.id == script_id)) or ""


async def queue_script(session: AsyncSession, queue: str) -> int | None:
    return await session.scalar(select(QueueScript.script_id).where(QueueScript.queue == queue))


async def assign_queue(session: AsyncSession, queue: str, script_id: int | None) -> None:
    row = await session.get(QueueScript, queue)
    if script_id is None:
        if row is not None:
            await session.delete(row)
        return
    await latest(session, script_id)
    if row is None:
        session.add(QueueScript(queue=queue, script_id=script_id))
    else:
        row.script_id = script_id


async def start_run(session: AsyncSession, linkedid: str, script_id: int, agent: str | None,
                    now: datetime) -> ScriptRun:
    """The call's walk; a call that already started one keeps it (and its version)."""
    run = await session.scalar(select(ScriptRun).where(ScriptRun.linkedid == linkedid))
    if run is not None:
        return run
    version = await latest(session, script_id)
    steps = version.steps
    run = ScriptRun(linkedid=linkedid, script_id=script_id, version=version.version,
                    step=steps[0]["id"] if steps else None, agent=agent, started_at=now)
    session.add(run)
    await session.flush()
    return run


async def run_of(session: AsyncSession, linkedid: str) -> ScriptRun | None:
    return await session.scalar(select(ScriptRun).where(ScriptRun.linkedid == linkedid))


async def answers_of(session: AsyncSession, run: ScriptRun) -> list[ScriptAnswer]:
    return list(await session.scalars(select(ScriptAnswer).where(ScriptAnswer.run_id == run.id)
                                      .order_by(ScriptAnswer.id)))


async def answer(session: AsyncSession, run: ScriptRun, step_id: str, value: str,
                 now: datetime) -> ScriptRun:
    """Stores the answer to the current step and moves to the step it leads to."""
    if run.step is None:
        raise ScriptError("the script is finished", "step")
    if step_id != run.step:
        raise ScriptError(f"the current step is {run.step!r}", "step")
    version = await latest(session, run.script_id, run.version)
    step = next(s for s in version.steps if s["id"] == step_id)
    choices = step.get("choices") or []
    target = step.get("next")
    if choices:
        choice = next((c for c in choices if c["value"] == value), None)
        if choice is None:
            raise ScriptError("not one of the step's choices", "answer")
        target = choice.get("next", target)
    session.add(ScriptAnswer(run_id=run.id, step=step_id, answer=value, answered_at=now))
    run.step = target
    await session.flush()
    return run


Values = Mapping[str, tuple[str | None, policy.FieldRule]]


def render_text(text: str, values: Values, viewer: policy.Viewer) -> str:
    def fill(match: re.Match[str]) -> str:
        value, rule = values.get(match.group(1), (None, policy.UNDECLARED))
        shown = policy.show(value, rule, viewer)
        return HIDDEN if shown is None else shown

    return _PLACEHOLDER.sub(fill, text)


def render_step(version: ScriptVersion, step_id: str | None, values: Values,
                viewer: policy.Viewer) -> dict[str, Any] | None:
    if step_id is None:
        return None
    step = next(s for s in version.steps if s["id"] == step_id)
    return {"id": step["id"], "text": render_text(step["text"], values, viewer),
            "input": bool(step.get("input")),
            "choices": [{"value": c["value"], "label": c.get("label") or c["value"]}
                        for c in step.get("choices") or []],
            "final": step.get("next") is None and not step.get("choices")}


async def answer_counts(session: AsyncSession, script_id: int) -> list[tuple[int, str, str, int]]:
    """(version, step, answer, calls): how a script's questions were answered."""
    return [tuple(r) for r in (await session.execute(  # type: ignore[misc]
        select(ScriptRun.version, ScriptAnswer.step, ScriptAnswer.answer, func.count())
        .join(ScriptRun, ScriptRun.id == ScriptAnswer.run_id)
        .where(ScriptRun.script_id == script_id)
        .group_by(ScriptRun.version, ScriptAnswer.step, ScriptAnswer.answer)
        .order_by(ScriptRun.version, ScriptAnswer.step))).all()]
