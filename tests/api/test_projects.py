"""Outbound projects through the HTTP API: import to report, preview with skip, a script
walked with its answers stored, and what agents may not see. The clock is the dialler's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.dispositions.models import CallWrapup, Disposition
from callcenter.projects import service
from callcenter.projects.models import ProjectAttempt, ProjectEntry
from callcenter.scripts.models import ScriptAnswer, ScriptRun
from tests.api.conftest import Api, database_url, serving_api

NOON_MSK = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CSV = """ФИО;Телефон;Email;Компания
Иван Петров;+7 495 123-45-01;ivan@example.com;Рога
Пётр Иванов;8 (495) 123-45-02;;Копыта
Двойник;+74951234501;;
Тот же адрес;+74951234503;IVAN@example.com;
Не звонить;+74951234504;;
Клиент базы;+74951234505;;
Без номера;;;
"""


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Api]:
    """The API on both databases, with a user per role."""
    async with serving_api(await database_url(request, tmp_path, "outbound"),
                           tmp_path) as served:
        yield served


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def project(api) -> dict:
    clock = Clock(NOON_MSK)
    api.service.dialler.clock = clock
    async with api.service.sessions() as session:
        session.add(Contact(name="Клиент", numbers=[ContactNumber(number="+74951234505")]))
        await session.commit()
    script = await api.post("/scripts", "supervisor", json={"name": "Холодный", "steps": [
        {"id": "hello", "text": "Добрый день, {name}! Вы из {Компания}? Почта {email}",
         "next": "ask"},
        {"id": "ask", "text": "Интересно?", "choices": [
            {"value": "yes", "label": "Да", "next": "offer"},
            {"value": "no", "label": "Нет", "next": "bye"}]},
        {"id": "offer", "text": "Когда удобно?", "input": True, "next": "bye"},
        {"id": "bye", "text": "Спасибо!"}]})
    assert script.status_code == 201, script.text
    created = await api.post("/projects", "supervisor", json={
        "name": "Осень", "mode": "preview", "caller_id": "+74950000000",
        "script_id": script.json()["id"], "agents": ["Anna"], "max_attempts": 3})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    async with api.service.sessions() as session:
        for code, success, closes, retry in (("sale", True, True, None),
                                             ("refused", False, True, None),
                                             ("think", False, False, 30)):
            session.add(Disposition(scope="project", scope_key=str(pid), code=code, label=code,
                                    is_success=success, closes_number=closes,
                                    retry_after_minutes=retry))
        await session.commit()
    dnc = await api.post(f"/projects/{pid}/dnc", "supervisor", json={"number": "84951234504"})
    assert dnc.status_code == 201
    imported = await api.post(f"/projects/{pid}/import", "supervisor",
                              files={"file": ("list.csv", CSV.encode(), "text/csv")})
    assert imported.status_code == 200, imported.text
    return {"id": pid, "report": imported.json(), "clock": clock,
            "script_id": script.json()["id"]}


async def test_import_reports_duplicates_dnc_contacts_and_bad_rows(api, project) -> None:
    report = project["report"]
    assert report["added"] == 4
    assert [d["line"] for d in report["skipped_duplicates"]] == [4, 5]  # phone, e-mail
    assert report["dnc"] == [{"line": 6}]
    assert [m["line"] for m in report["matched_contacts"]] == [7]
    assert report["errors"] == [{"line": 8, "errors": ["no phone number"]}]
    progress = await api.get(f"/projects/{project['id']}/reports/progress", "supervisor")
    assert progress.json()["total"] == 4 and progress.json()["pending"] == 3
    assert progress.json()["dnc"] == 1


async def test_preview_skip_call_disposition_and_reports(api, project) -> None:
    pid = project["id"]
    assert (await api.post(f"/projects/{pid}/preview/next", "agent")).status_code == 409
    assert (await api.post(f"/projects/{pid}/start", "supervisor")).json()["status"] == "running"
    card = await api.post(f"/projects/{pid}/preview/next", "agent")
    assert card.status_code == 200, card.text
    first = card.json()
    assert first["entry"]["phone"] == "********4501"  # agents: the last 4 digits
    assert "email" not in first["entry"]
    assert first["script"]["step"]["text"] == "Добрый день, Иван Петров! Вы из …? Почта …"
    again = await api.post(f"/projects/{pid}/preview/next", "agent")
    assert again.json()["entry"]["id"] == first["entry"]["id"]  # the same card until acted on
    other = await api.post(f"/projects/{pid}/preview/next", "other_agent")
    assert other.status_code == 404  # Boris is not in the project
    skipped = await api.post(f"/projects/{pid}/preview/{first['entry']['id']}/skip", "agent",
                             json={"reason": "wrong person"})
    assert skipped.json()["state"] == "skipped"
    card = (await api.post(f"/projects/{pid}/preview/next", "agent")).json()
    assert card["entry"]["id"] != first["entry"]["id"]

    # the call itself needs Asterisk (tests/integration): its attempt is recorded here as the
    # dialler does, and its end comes as the channel said
    clock = project["clock"]
    async with api.service.sessions() as session:
        entry = await session.get(ProjectEntry, card["entry"]["id"])
        await service.start_attempt(session, entry, linkedid="pv-test-1", agent="Anna",
                                    mode="preview", now=clock.now)
        await service.finish_attempt(session, "pv-test-1", result="busy", now=clock.now)
        await session.commit()
        assert (entry.state, entry.next_at) == ("queued", clock.now + timedelta(minutes=10))
    assert (await api.post(f"/projects/{pid}/preview/next", "agent")).json()["entry"]["id"] \
        != card["entry"]["id"]  # not due yet: the next number
    clock.now += timedelta(minutes=10)

    async with api.service.sessions() as session:
        entry = await session.get(ProjectEntry, card["entry"]["id"])
        await service.start_attempt(session, entry, linkedid="pv-test-2", agent="Anna",
                                    mode="preview", now=clock.now)
        await service.finish_attempt(session, "pv-test-2", result="answered", now=clock.now,
                                     answered_at=clock.now)
        await session.commit()
    bad = await api.post("/projects/attempts/pv-test-2/disposition", "agent",
                         json={"code": "nonsense"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "code"]
    stranger = await api.post("/projects/attempts/pv-test-2/disposition", "other_agent",
                              json={"code": "sale"})
    assert stranger.status_code == 404
    later = (clock.now + timedelta(hours=2)).isoformat()
    saved = await api.post("/projects/attempts/pv-test-2/disposition", "agent",
                           json={"code": "think", "callback_at": later})
    assert saved.status_code == 200, saved.text
    # the agent's call-back time wins over the disposition's 30 minutes
    assert saved.json()["entry_state"] == "queued"
    assert saved.json()["next_at"].startswith(later[:16])

    async with api.service.sessions() as session:
        wrapup = await session.scalar(select(CallWrapup).where(CallWrapup.linkedid == "pv-test-2"))
    assert (wrapup.agent, wrapup.disposition_code) == ("Anna", "think")  # on the call record
    callbacks = await api.get(f"/projects/{pid}/reports/callbacks", "supervisor")
    assert [c["entry_id"] for c in callbacks.json()] == [card["entry"]["id"]]
    funnel = await api.get(f"/projects/{pid}/reports/funnel", "supervisor")
    assert funnel.json() == {"dialled": 1, "answered": 1, "positive": 0}
    agents = await api.get(f"/projects/{pid}/reports/agents?format=csv", "supervisor")
    assert agents.headers["content-type"].startswith("text/csv")
    assert agents.text.splitlines()[1].startswith("Anna,2026-12-04,2,1,")
    progress = (await api.get(f"/projects/{pid}/reports/progress", "supervisor")).json()
    assert progress["skipped"] == 1 and progress["in_retry"] == 1
    assert progress["by_result"]["answered"] == 1


async def test_a_script_walked_through_the_api_stores_its_answers(api, project) -> None:
    pid = project["id"]
    async with api.service.sessions() as session:
        entry = (await session.scalars(select(ProjectEntry).where(
            ProjectEntry.project_id == pid, ProjectEntry.state == "queued")
            .order_by(ProjectEntry.id))).first()
        await service.start_attempt(session, entry, linkedid="dl-script-1", agent="Anna",
                                    mode="progressive", now=NOON_MSK)
        await session.commit()
    assert (await api.post("/scripts/calls/dl-script-1", "other_agent", json={})
            ).status_code == 404
    walk = await api.post("/scripts/calls/dl-script-1", "agent", json={})
    assert walk.status_code == 200, walk.text
    assert walk.json()["step"]["id"] == "hello" and walk.json()["version"] == 1
    # a supervisor's edit makes version 2; this call keeps version 1
    edited = await api.post(f"/scripts/{project['script_id']}/versions", "supervisor",
                            json={"steps": [{"id": "hello", "text": "Новое"}]})
    assert edited.json()["version"] == 2
    step = await api.post("/scripts/calls/dl-script-1/answers", "agent",
                          json={"step": "hello", "answer": "ok"})
    assert step.json()["step"]["choices"][0] == {"value": "yes", "label": "Да"}
    wrong = await api.post("/scripts/calls/dl-script-1/answers", "agent",
                           json={"step": "ask", "answer": "maybe"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "answer"]
    await api.post("/scripts/calls/dl-script-1/answers", "agent",
                   json={"step": "ask", "answer": "yes"})
    done = await api.post("/scripts/calls/dl-script-1/answers", "agent",
                          json={"step": "offer", "answer": "завтра утром"})
    assert done.json()["step"]["id"] == "bye" and done.json()["step"]["final"]
    async with api.service.sessions() as session:
        run = await session.scalar(select(ScriptRun).where(ScriptRun.linkedid == "dl-script-1"))
        assert run.version == 1
        answers = list(await session.scalars(select(ScriptAnswer.answer)
                                             .where(ScriptAnswer.run_id == run.id)
                                             .order_by(ScriptAnswer.id)))
        assert answers == ["ok", "yes", "завтра утром"]
        attempt = await session.scalar(select(ProjectAttempt)
                                       .where(ProjectAttempt.linkedid == "dl-script-1"))
        assert attempt.entry_id == entry.id


async def test_agents_cannot_manage_projects(api, project) -> None:
    assert (await api.post("/projects", "agent", json={"name": "x"})).status_code == 403
    assert (await api.get(f"/projects/{project['id']}/reports/funnel", "agent")
            ).status_code == 403
    mine = await api.get("/projects", "agent")
    assert [p["id"] for p in mine.json()] == [project["id"]]
    assert (await api.get("/projects", "other_agent")).json() == []


async def test_a_card_left_held_goes_back_and_a_lost_call_is_failed(api, project) -> None:
    pid, clock = project["id"], project["clock"]
    await api.post(f"/projects/{pid}/start", "supervisor")
    held = (await api.post(f"/projects/{pid}/preview/next", "agent")).json()["entry"]["id"]
    async with api.service.sessions() as session:
        p = await service.get_project(session, pid)
        # another agent, 31 minutes later, gets Anna's forgotten card back in the list
        taken = await service.claim_next(session, p, clock.now + timedelta(minutes=31),
                                         holder="Vera")
        assert taken.id == held
        await session.commit()
        entry = await session.get(ProjectEntry, held)
        await service.start_attempt(session, entry, linkedid="dl-lost", agent="Vera",
                                    mode="progressive", now=clock.now)
        await session.commit()
        assert await service.expire_lost(session, clock.now + timedelta(minutes=59), set()) == 0
        later = clock.now + timedelta(hours=2)
        assert await service.expire_lost(session, later, {"dl-lost"}) == 0  # still followed
        assert await service.expire_lost(session, later, set()) == 1
        await session.commit()
        attempt = await service.attempt_by_linkedid(session, "dl-lost")
        assert attempt.result == "failed"
        entry = await session.get(ProjectEntry, held)
        assert entry.state == "done"  # failed: never retried by this project's rules


async def test_a_null_in_a_project_change_is_a_422_and_changes_nothing(api, project) -> None:
    """Found by the schema fuzzer: `"agents": null` was a 500."""
    url = f"/projects/{project['id']}"
    for field in ("agents", "name", "priority"):
        refused = await api.client.patch(url, headers=api.headers("supervisor"),
                                         json={field: None})
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", field]
    kept = (await api.get(url, "supervisor")).json()
    assert kept["agents"] == ["Anna"] and kept["name"] == "Осень"
    changed = await api.client.patch(url, headers=api.headers("supervisor"),
                                     json={"agents": [], "caller_id": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["agents"] == [] and changed.json()["caller_id"] is None


async def _answered_attempt(api, pid: int, clock: Clock, linkedid: str) -> ProjectEntry:
    """An answered attempt by Anna as the dialler records it, and its call record as the
    ledger writes it (outbound, with the number)."""
    async with api.service.sessions() as session:
        entry = await service.claim_next(session, await service.get_project(session, pid),
                                         clock.now, holder="Anna")
        assert entry is not None
        await service.start_attempt(session, entry, linkedid=linkedid, agent="Anna",
                                    mode="preview", now=clock.now)
        await service.finish_attempt(session, linkedid, result="answered", now=clock.now,
                                     answered_at=clock.now)
        session.add(Call(linkedid=linkedid, direction="outbound", caller="+74950000000",
                         called=entry.phone, started_at=clock.now, answered_at=clock.now,
                         ended_at=clock.now, agent="Anna", talk_seconds=30,
                         outcome="answered", end_inferred=False))
        await session.commit()
        return entry


async def test_desktop_wrapup_of_a_project_call_feeds_the_project(api, project) -> None:
    """The desktop's wrap-up (`POST /calls/{linkedid}/wrapup`) of a project call uses the
    project's list and its rules: a retry disposition schedules the next attempt, a closing
    one closes the number, and the call record shows the disposition."""
    pid, clock = project["id"], project["clock"]
    assert (await api.post(f"/projects/{pid}/start", "supervisor")).status_code == 200
    entry = await _answered_attempt(api, pid, clock, "wp-retry")
    form = await api.get("/calls/wp-retry/wrapup", "agent")
    assert form.status_code == 200, form.text
    assert form.json()["policy"]["scope"] == "project"
    assert form.json()["policy"]["seconds"] == 60  # the project's wrap-up time
    assert {d["code"] for d in form.json()["dispositions"]} == {"sale", "refused", "think"}

    queue_code = await api.post("/calls/wp-retry/wrapup", "agent", json={"code": "nonsense"})
    assert queue_code.status_code == 422
    saved = await api.post("/calls/wp-retry/wrapup", "agent", json={"code": "think"})
    assert saved.status_code == 200, saved.text
    async with api.service.sessions() as session:
        again = await session.get(ProjectEntry, entry.id)
        attempt = await service.attempt_by_linkedid(session, "wp-retry")
    assert attempt.disposition == "think"
    assert (again.state, again.disposition) == ("queued", "think")
    assert again.next_at == clock.now + timedelta(minutes=30)  # "think": again in 30 min
    record = (await api.get("/calls?limit=10", "supervisor")).json()
    items = record["items"] if isinstance(record, dict) else record
    assert [(c["linkedid"], c["disposition"], c["direction"]) for c in items
            if c["linkedid"] == "wp-retry"] == [("wp-retry", "think", "outbound")]

    # the agent's "call back at" wins over the 30 minutes, and makes no queue callback
    later = clock.now + timedelta(hours=3)
    saved = await api.post("/calls/wp-retry/wrapup", "agent", json={
        "code": "think", "callback": {"when": later.isoformat(), "assignee": "mine"}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["callback_id"] is None
    async with api.service.sessions() as session:
        again = await session.get(ProjectEntry, entry.id)
    assert (again.state, again.next_at, again.callback_agent) == ("queued", later, "Anna")

    clock.now = later
    entry = await _answered_attempt(api, pid, clock, "wp-close")
    stranger = await api.post("/calls/wp-close/wrapup", "other_agent", json={"code": "sale"})
    assert stranger.status_code == 404
    saved = await api.post("/calls/wp-close/wrapup", "agent", json={"code": "refused"})
    assert saved.status_code == 200, saved.text
    async with api.service.sessions() as session:
        again = await session.get(ProjectEntry, entry.id)
        wrapup = await session.scalar(select(CallWrapup).where(CallWrapup.linkedid == "wp-close"))
    assert (again.state, again.next_at, again.success) == ("done", None, False)
    assert (wrapup.agent, wrapup.disposition_code) == ("Anna", "refused")
