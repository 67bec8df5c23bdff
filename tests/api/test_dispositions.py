"""Dispositions, wrap-up policies and call wrap-ups through the HTTP API, on both databases."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from tests.api.conftest import Api, database_url, serving_api


@pytest.fixture(params=["sqlite", "postgresql"])
async def dapi(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Api]:
    """The API with a user per role and two answered calls in `support` (Anna's, Boris's)."""
    async with serving_api(await database_url(request, tmp_path, "desk"), tmp_path) as served:
        now = datetime.now(UTC) - timedelta(hours=1)
        async with served.service.sessions() as session:
            for agent, linkedid in (("Anna", "call-anna"), ("Boris", "call-boris")):
                session.add(Call(linkedid=linkedid, direction="inbound", caller="+79161234567",
                                 called="+74950000000", started_at=now, queue="support",
                                 answered_at=now, ended_at=now, agent=agent, wait_seconds=3,
                                 talk_seconds=60, outcome="answered", end_inferred=False))
            await session.commit()
        yield served


async def _send(api: Api, method: str, path: str, role: str, **kw) -> httpx.Response:
    return await api.client.request(method, path, headers=api.headers(role), **kw)


async def _support_list(api: Api) -> list[dict]:
    made = []
    for position, (code, label, hotkey) in enumerate(
            [("sale", "Sale", 1), ("info", "Information", 2), ("complaint", "Жалоба", 3)]):
        r = await api.post("/admin/dispositions", "admin", json={
            "scope_key": "support", "code": code, "label": label, "hotkey": hotkey,
            "is_success": code == "sale", "position": position})
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


async def test_admins_keep_the_list_and_agents_read_their_queues(dapi: Api) -> None:
    made = await _support_list(dapi)
    for role in ("supervisor", "agent"):
        r = await dapi.post("/admin/dispositions", role, json={
            "scope_key": "support", "code": "x", "label": "X"})
        assert r.status_code == 403
    r = await dapi.post("/admin/dispositions", "admin", json={
        "scope_key": "support", "code": "sale", "label": "Again"})
    assert r.status_code == 409 and "sale" in r.json()["detail"]
    r = await dapi.post("/admin/dispositions", "admin", json={
        "scope_key": "support", "code": "other", "label": "Other", "hotkey": 1})
    assert r.status_code == 409 and "hotkey" in r.json()["detail"]
    r = await dapi.post("/admin/dispositions", "admin", json={
        "scope_key": "support", "code": "other", "label": "Other", "hotkey": 10})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "hotkey"]
    r = await dapi.post("/admin/dispositions", "admin", json={
        "scope_key": "sup port", "code": "other", "label": "Other"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "scope_key"]

    # Anna took a call from support: she reads its list, in order, with hotkeys
    r = await dapi.get("/dispositions", "agent", params={"key": "support"})
    assert r.status_code == 200, r.text
    assert [(d["code"], d["hotkey"]) for d in r.json()["dispositions"]] == [
        ("sale", 1), ("info", 2), ("complaint", 3)]
    assert r.json()["policy"] == {"scope": "queue", "scope_key": "support", "required": False,
                                  "seconds": 0}
    r = await dapi.get("/dispositions", "agent", params={"key": "sales"})
    assert r.status_code == 403

    # deactivated: gone from the agents' list, kept for admins; deleted: gone
    r = await _send(dapi, "PATCH", f"/admin/dispositions/{made[1]['id']}", "admin",
                    json={"active": False, "label": "Info"})
    assert r.status_code == 200 and r.json()["active"] is False
    r = await _send(dapi, "PATCH", f"/admin/dispositions/{made[1]['id']}", "admin",
                    json={"label": None})
    assert r.status_code == 422
    r = await dapi.get("/dispositions", "agent", params={"key": "support"})
    assert [d["code"] for d in r.json()["dispositions"]] == ["sale", "complaint"]
    r = await dapi.get("/admin/dispositions", "admin", params={"key": "support"})
    assert [d["code"] for d in r.json()] == ["sale", "info", "complaint"]
    assert (await dapi.get("/admin/dispositions", "supervisor")).status_code == 403
    r = await _send(dapi, "DELETE", f"/admin/dispositions/{made[2]['id']}", "admin")
    assert r.status_code == 204
    r = await _send(dapi, "DELETE", f"/admin/dispositions/{made[2]['id']}", "admin")
    assert r.status_code == 404
    actions = [a["action"] for a in (await dapi.get("/audit", "admin")).json()]
    assert actions.count("disposition.create") == 3
    assert "disposition.update" in actions and "disposition.delete" in actions


async def test_a_queue_without_its_own_list_uses_the_default_one(dapi: Api) -> None:
    r = await dapi.post("/admin/dispositions", "admin", json={
        "scope_key": "*", "code": "done", "label": "Done", "hotkey": 1})
    assert r.status_code == 201
    r = await _send(dapi, "PUT", "/admin/wrapup-policies/queue/*", "admin",
                    json={"required": True, "seconds": 30})
    assert r.status_code == 200
    r = await dapi.get("/calls/call-anna/wrapup", "agent")
    assert r.status_code == 200, r.text
    form = r.json()
    assert [d["code"] for d in form["dispositions"]] == ["done"]
    assert form["policy"]["required"] is True and form["policy"]["seconds"] == 30
    assert form["seconds_left"] == 0  # the call ended an hour ago
    assert form["wrapup"] is None
    r = await _send(dapi, "PUT", "/admin/wrapup-policies/queue/support", "admin",
                    json={"required": False, "seconds": 3601})
    assert r.status_code == 422
    r = await _send(dapi, "PUT", "/admin/wrapup-policies/queue/support", "supervisor",
                    json={"required": False, "seconds": 10})
    assert r.status_code == 403
    r = await dapi.get("/admin/wrapup-policies", "admin")
    assert [(p["scope_key"], p["seconds"]) for p in r.json()] == [("*", 30)]


async def test_only_the_agent_on_the_call_wraps_it_up_and_the_record_shows_it(dapi: Api) -> None:
    await _support_list(dapi)
    note = "Клиент доволен, перезвонить про тариф"
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "sale", "note": note})
    assert r.status_code == 200, r.text
    assert r.json()["disposition_code"] == "sale" and r.json()["agent"] == "Anna"
    for role in ("other_agent", "supervisor", "admin"):  # not the agent on the call
        r = await dapi.post("/calls/call-anna/wrapup", role, json={"code": "info"})
        assert r.status_code == 404
        assert (await dapi.get("/calls/call-anna/wrapup", role)).status_code == 404
    r = await dapi.post("/calls/no-such-call/wrapup", "agent", json={"code": "info"})
    assert r.status_code == 404

    mine = (await dapi.get("/calls", "agent", params={"linkedid": "call-anna"})).json()
    assert (mine[0]["disposition"], mine[0]["note"]) == ("sale", note)
    seen = {c["linkedid"]: c for c in (await dapi.get("/calls", "supervisor")).json()}
    assert (seen["call-anna"]["disposition"], seen["call-anna"]["note"]) == ("sale", note)
    assert seen["call-boris"]["disposition"] is None
    # Boris's own list never has Anna's call, nor her note
    others = (await dapi.get("/calls", "other_agent")).json()
    assert [c["linkedid"] for c in others] == ["call-boris"] and others[0]["note"] is None
    # CSV too
    r = await dapi.get("/calls", "supervisor", params={"format": "csv"})
    rows = {row["linkedid"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert (rows["call-anna"]["disposition"], rows["call-anna"]["note"]) == ("sale", note)

    # replaced (one per call), the form shows it; each save audited without the note's text
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "info", "note": note})
    assert r.status_code == 200 and r.json()["disposition_code"] == "info"
    form = (await dapi.get("/calls/call-anna/wrapup", "agent")).json()
    assert form["wrapup"]["disposition_code"] == "info" and form["wrapup"]["note"] == note
    entries = [a for a in (await dapi.get("/audit", "admin")).json()
               if a["object_type"] == "call"]
    assert [(a["action"], a["details"]) for a in entries] == [
        ("wrapup.update", "code=info note=unchanged"), ("wrapup.save", "code=sale note=set")]
    assert all(note not in str(a) for a in entries)


async def test_bad_wrapups_are_refused_naming_the_field(dapi: Api) -> None:
    await _support_list(dapi)
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "nonsense"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "code"]
    r = await dapi.post("/calls/call-anna/wrapup", "agent",
                        json={"code": "sale", "note": "his mobile is +7 916 765-43-21"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "note"]
    r = await dapi.post("/calls/call-anna/wrapup", "agent",
                        json={"code": "sale", "note": "x" * 2001})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "note"]
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={
        "code": "sale", "callback": {"when": "2020-01-01T10:00:00Z", "assignee": "mine"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "callback", "when"]
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"note": "no code given"})
    assert r.status_code == 200  # not required
    await _send(dapi, "PUT", "/admin/wrapup-policies/queue/support", "admin",
                json={"required": True, "seconds": 0})
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"note": "no code given"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "code"]
    form = (await dapi.get("/calls/call-anna/wrapup", "agent")).json()
    assert form["wrapup"]["note"] == "no code given"  # the refused ones changed nothing


async def test_a_wrapup_schedules_a_callback_mine_or_the_teams(dapi: Api) -> None:
    await _support_list(dapi)
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={
        "code": "info", "callback": {"when": when.isoformat(), "assignee": "mine"}})
    assert r.status_code == 200, r.text
    callback_id = r.json()["callback_id"]
    async with dapi.service.sessions() as session:
        callback = await session.get(Callback, callback_id)
        assert (callback.number, callback.queue, callback.assignee, callback.due_at,
                callback.source, callback.status) == (
            "+79161234567", "support", "Anna", when, "wrapup", "open")
    r = await dapi.post("/calls/call-boris/wrapup", "other_agent", json={
        "code": "info", "callback": {"when": when.isoformat(), "assignee": "team"}})
    assert r.json()["callback_id"] == callback_id  # one open callback per number
    async with dapi.service.sessions() as session:
        callback = await session.get(Callback, callback_id)
        assert callback.assignee is None  # now the team's
        audit = list(await session.scalars(select(AuditEntry.details)
                                           .where(AuditEntry.action == "wrapup.save")))
        assert all(f"callback={callback_id}" in d for d in audit)


async def test_a_saved_wrapup_is_an_event_for_the_crm(dapi: Api) -> None:
    """disposition.saved in the wrap-up's transaction (hooks); agents see it, note masked."""
    await _support_list(dapi)
    r = await dapi.post("/calls/call-anna/wrapup", "agent",
                        json={"code": "sale", "note": "wants the yearly plan"})
    assert r.status_code == 200, r.text
    refused = await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "nonsense"})
    assert refused.status_code == 422  # refused: nothing saved, nothing emitted
    r = await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "info"})
    assert r.status_code == 200, r.text
    page = (await dapi.get("/events", "supervisor", params={"types": "disposition.saved"})).json()
    saved = [(e["data"]["disposition_code"], e["data"]["replaced"], e["ordering_key"])
             for e in page["events"]]
    assert saved == [("sale", False, "call-anna"), ("info", True, "call-anna")]
    assert page["events"][0]["data"]["note"] == "wants the yearly plan"
    mine = (await dapi.get("/events", "agent", params={"types": "disposition.saved"})).json()
    assert len(mine["events"]) == 2
    theirs = (await dapi.get("/events", "other_agent",
                             params={"types": "disposition.saved"})).json()
    assert theirs["events"] == []
