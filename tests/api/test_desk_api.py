"""What the agent desktop reads beyond wrap-up: the card's outcomes and repeat mark, contact
notes written by agents, my callbacks, and the today panel; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.agents.models import AgentStateChange
from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from tests.api import test_dispositions
from tests.api.conftest import Api
from tests.api.test_dispositions import _send, _support_list

dapi = test_dispositions.dapi  # the same fixture: both databases, a user per role, two calls

NUMBER = "+79161234567"


async def _contact(api: Api, notes: str | None = "prefers mornings") -> int:
    async with api.service.sessions() as session:
        contact = Contact(name="Иван Петров", email="ivan@example.com", notes=notes,
                          numbers=[ContactNumber(number=NUMBER, label="mobile")])
        session.add(contact)
        await session.commit()
        return contact.id


async def test_the_card_shows_outcomes_dispositions_and_the_repeat_mark(dapi: Api) -> None:
    await _support_list(dapi)
    await dapi.post("/calls/call-anna/wrapup", "agent", json={"code": "sale"})
    pop = (await dapi.get("/screenpop", "agent", params={"number": NUMBER})).json()
    assert pop["repeat_caller"] is True and pop["recent_calls"] == 2
    by_id = {c["linkedid"]: c for c in pop["last_calls"]}
    assert (by_id["call-anna"]["outcome"], by_id["call-anna"]["disposition"]) == (
        "answered", "sale")
    assert by_id["call-boris"]["disposition"] is None
    new = (await dapi.get("/screenpop", "supervisor", params={"number": "+79990001122"})).json()
    assert new["repeat_caller"] is False and new["recent_calls"] == 0


async def test_agents_write_the_notes_of_cards_they_may_read_audited_without_text(
        dapi: Api) -> None:
    contact_id = await _contact(dapi)
    path = f"/contacts/{contact_id}/notes"
    # notes hidden from agents: they may not write them either
    r = await _send(dapi, "PUT", path, "agent", json={"notes": "calls after 18:00"})
    assert r.status_code == 403
    r = await _send(dapi, "PUT", "/admin/card-fields", "admin",
                    json={"fields": {}, "notes_agent_visible": True})
    assert r.status_code == 200
    r = await _send(dapi, "PUT", path, "agent", json={"notes": "calls after 18:00"})
    assert r.status_code == 200 and r.json()["notes"] == "calls after 18:00"
    r = await _send(dapi, "PUT", path, "agent", json={"notes": "mail him: ivan@example.com"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "notes"]
    r = await _send(dapi, "PUT", "/contacts/999999/notes", "agent", json={"notes": "x"})
    assert r.status_code == 404
    r = await _send(dapi, "PUT", path, "agent", json={"notes": "x" * 20_000})
    assert r.status_code == 422
    async with dapi.service.sessions() as session:
        assert (await session.get(Contact, contact_id)).notes == "calls after 18:00"
        entries = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "contact.notes")))
        assert [(e.username, e.object_id, e.details) for e in entries] == [
            ("anna", str(contact_id), "length=17")]
        # a number Anna was never on a call with: not hers to read, nor to write
        other = Contact(name="Someone", numbers=[ContactNumber(number="+79990001122")])
        session.add(other)
        await session.commit()
    r = await _send(dapi, "PUT", f"/contacts/{other.id}/notes", "agent", json={"notes": "x"})
    assert r.status_code == 404
    r = await _send(dapi, "PUT", f"/contacts/{other.id}/notes", "supervisor",
                    json={"notes": None})
    assert r.status_code == 200 and r.json()["notes"] is None


async def test_my_callbacks_due_and_overdue_first(dapi: Api) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with dapi.service.sessions() as session:
        for number, queue, due, assignee in [
                ("+79160000001", "support", now + timedelta(hours=2), "Anna"),
                ("+79160000002", "support", now - timedelta(hours=1), "Anna"),  # overdue
                ("+79160000003", "support", now + timedelta(hours=1), None),  # team's
                ("+79160000004", "sales", now + timedelta(minutes=5), None),  # not her queue
                ("+79160000005", "support", now - timedelta(hours=3), "Boris")]:
            session.add(Callback(number=number, queue=queue, source="wrapup",
                                 requested_at=now - timedelta(days=1), due_at=due,
                                 assignee=assignee, status="open"))
        await session.commit()
    mine = (await dapi.get("/callbacks", "agent", params={"assigned": "me"})).json()
    assert [c["number"][-4:] for c in mine] == ["0002", "0001"]
    assert all(set(c["number"][:-4]) == {"*"} for c in mine)  # masked for agents
    assert mine[0]["assignee"] == "Anna" and mine[0]["due_at"] is not None
    both = (await dapi.get("/callbacks", "agent", params={"assigned": "mine_and_team"})).json()
    assert [c["number"][-4:] for c in both] == ["0002", "0003", "0001"]
    everything = (await dapi.get("/callbacks", "supervisor")).json()
    assert [c["number"][-4:] for c in everything] == ["0005", "0002", "0004", "0003", "0001"]
    r = await dapi.get("/callbacks", "agent", params={"assigned": "someone"})
    assert r.status_code == 422


async def test_the_today_panel_counts_my_calls_handling_time_and_pauses(dapi: Api) -> None:
    now = datetime.now(UTC)
    async with dapi.service.sessions() as session:
        # another answered call of Anna's, and one from long ago that does not count
        session.add(Call(linkedid="call-anna-2", direction="inbound", caller="+79160000009",
                         started_at=now - timedelta(minutes=30), queue="support",
                         answered_at=now - timedelta(minutes=30), agent="Anna",
                         talk_seconds=120, outcome="answered", end_inferred=False))
        session.add(Call(linkedid="call-anna-old", direction="inbound", caller="+79160000009",
                         started_at=now - timedelta(days=3), queue="support",
                         answered_at=now - timedelta(days=3), agent="Anna",
                         talk_seconds=999, outcome="answered", end_inferred=False))
        for state, reason, ago in (("pause", "lunch", 20), ("unpause", None, 10)):
            session.add(AgentStateChange(agent="Anna", interface="Local/2001@cc-test-agent/n",
                                         queue="support", state=state, reason=reason,
                                         at=now - timedelta(minutes=ago)))
        await session.commit()
    r = await dapi.get("/agents/me/today", "agent")
    assert r.status_code == 200, r.text
    day = r.json()
    # the fixture's call of an hour ago may fall before local midnight: count from the records
    async with dapi.service.sessions() as session:
        since = datetime.fromisoformat(day["since"])
        expected = [c for c in await session.scalars(select(Call).where(Call.agent == "Anna"))
                    if c.started_at >= since]
    assert day["calls"] == len(expected) and day["answered"] == len(expected)
    assert day["average_handling_seconds"] == (round(
        sum(c.talk_seconds for c in expected) / len(expected), 1) if expected else None)
    if now - timedelta(minutes=20) >= since:
        assert day["pause_seconds"] == {"lunch": 600.0}
    assert day["waiting"] is None  # no Asterisk here: not known, rather than zero
    assert (await dapi.get("/agents/me/today", "supervisor")).status_code == 409
    assert (await dapi.get("/agents/me/today", None)).status_code == 401


async def test_agents_call_a_masked_number_of_a_card_by_its_last_digits(dapi: Api) -> None:
    async with dapi.service.sessions() as session:
        contact = Contact(name="Иван Петров", numbers=[
            ContactNumber(number=NUMBER), ContactNumber(number="+74951112233"),
            ContactNumber(number="+74959992233")])
        stranger = Contact(name="Someone", numbers=[ContactNumber(number="+79990001122")])
        session.add_all([contact, stranger])
        await session.commit()
    pop = (await dapi.get("/screenpop", "agent", params={"number": NUMBER})).json()
    assert "+74951112233" not in str(pop)  # masked on her card ...
    path = f"/contacts/{contact.id}/call"
    r = await dapi.post(path, "agent", json={"ending": "4567"})  # ... and dialled all the same
    assert r.status_code == 503  # the number was found; no Asterisk in these tests
    r = await dapi.post(path, "agent", json={"ending": "2233"})
    assert r.status_code == 409 and "more than one" in r.json()["detail"]
    r = await dapi.post(path, "agent", json={"ending": "0000"})
    assert r.status_code == 404
    r = await dapi.post(path, "agent", json={"ending": "12a4"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ending"]
    r = await dapi.post(f"/contacts/{stranger.id}/call", "agent", json={"ending": "1122"})
    assert r.status_code == 404  # not a card of hers
    r = await dapi.post(path, "supervisor", json={"ending": "4567"})
    assert r.status_code == 409  # no agent phone


async def test_forgetting_a_person_erases_the_notes_on_their_calls_not_the_dispositions(
        dapi: Api) -> None:
    await _support_list(dapi)
    contact_id = await _contact(dapi)
    r = await dapi.post("/calls/call-anna/wrapup", "agent",
                        json={"code": "sale", "note": "Иван просил скидку"})
    assert r.status_code == 200
    r = await _send(dapi, "DELETE", f"/contacts/{contact_id}", "admin",
                    params={"forget": "true"})
    assert r.status_code == 200 and r.json()["wrapup_notes"] == 1
    record = (await dapi.get("/calls", "supervisor", params={"linkedid": "call-anna"})).json()
    assert (record[0]["disposition"], record[0]["note"]) == ("sale", None)
