"""What each role sees of a customer: the contact center's personal-data rules."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.audit.models import AuditEntry
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact
from callcenter.recordings.models import Recording


async def test_agent_sees_name_and_allowed_fields_but_no_passport_address_or_email(api,
                                                                                  customer):
    await api.client.put("/admin/card-fields", headers=api.headers("admin"),
                         json={"agent_visible": ["company", "passport"]})
    pop = (await api.get("/screenpop", "agent", params={"number": "+7 916 123-45-67"})).json()
    card = pop["contact"]
    assert card["name"] == "Иван Петров" and card["vip"] and not pop["new"]
    assert card["fields"] == {"company": "Roga i Kopyta"}  # passport never, though marked
    assert "email" not in card
    numbers = {n["label"]: n["number"] for n in card["numbers"]}
    assert numbers == {"mobile": "+79161234567", "work": "********4567"}


async def test_supervisor_sees_everything(api, customer):
    pop = (await api.get("/screenpop", "supervisor", params={"number": "89161234567"})).json()
    card = pop["contact"]
    assert card["email"] == "ivan@example.com"
    assert card["fields"]["passport"] == "4509 123456"
    assert {n["number"] for n in card["numbers"]} == {"+79161234567", "+74951234567"}


async def test_screen_pop_finds_the_caller_however_the_number_is_written(api, customer):
    for written in ("+7 916 123-45-67", "89161234567", "79161234567", "007 916 1234567",
                    "+7 (916) 123 45 67"):
        pop = (await api.get("/screenpop", "agent", params={"number": written})).json()
        assert pop["contact"]["name"] == "Иван Петров", written
        assert [c["linkedid"] for c in pop["last_calls"]] == ["call-boris", "call-anna"]


async def test_unknown_number_is_an_empty_card_marked_new(api):
    response = await api.get("/screenpop", "agent", params={"number": "+7 999 000-00-00"})
    assert response.status_code == 200
    assert response.json()["new"] and response.json()["contact"] is None


async def test_agents_see_only_their_own_calls_and_recordings(api, customer):
    anna = (await api.get("/calls", "agent")).json()
    assert [c["agent"] for c in anna] == ["Anna"]
    assert anna[0]["caller"] == "********4567"  # masked in lists
    assert [c["agent"] for c in (await api.get("/calls", "supervisor")).json()] == [
        "Boris", "Anna"]
    assert (await api.get(f"/recordings/{customer['boris_recording']}", "agent")).status_code \
        == 404
    assert (await api.get(f"/recordings/{customer['anna_recording']}", "agent")).status_code \
        == 200
    pop = (await api.get("/screenpop", "agent", params={"number": "89161234567"})).json()
    links = {c["linkedid"]: c["recordings"] for c in pop["last_calls"]}
    assert links == {"call-anna": [customer["anna_recording"]], "call-boris": []}


async def test_forget_me_erases_the_person_and_their_recordings(api, customer):
    response = await api.client.delete(f"/contacts/{customer['contact_id']}",
                                       params={"forget": "true"}, headers=api.headers("admin"))
    assert response.status_code == 200
    body = response.json()
    assert (body["forgotten"], body["calls"], body["recordings"]) == (True, 2, 2)
    assert not customer["path"].exists()
    async with api.service.sessions() as session:
        assert await session.get(Contact, customer["contact_id"]) is None
        calls = list(await session.scalars(select(Call)))
        assert len(calls) == 2  # statistics stay
        assert all(c.caller.startswith("forgotten:") and c.caller_name is None for c in calls)
        assert list(await session.scalars(select(Recording))) == []
        [entry] = await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "contact.forget"))
        assert entry.username == "root" and entry.object_id == str(customer["contact_id"])
    pop = (await api.get("/screenpop", "supervisor", params={"number": "89161234567"})).json()
    assert pop["new"] and pop["last_calls"] == []


async def test_csv_export_streams_every_match_with_the_role_masking(api, customer):
    response = await api.get("/calls", "supervisor", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = response.text.strip().splitlines()
    assert header.startswith("linkedid,direction,caller,called")
    assert [r.split(",")[0] for r in rows] == ["call-boris", "call-anna"]
    assert "+79161234567" in rows[0]
    agent = (await api.get("/calls", "agent", params={"format": "csv"})).text.splitlines()
    assert len(agent) == 2 and agent[1].startswith("call-anna,inbound,********4567")
