"""What each role sees of a customer: the contact center's personal-data rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from callcenter.audit.models import AuditEntry
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact
from callcenter.recordings.models import Recording

DECLARED = {"fields": {
    "company": {"kind": "free_text", "agent_visible": True},
    "passport": {"kind": "identity_document", "agent_visible": True},  # never, though marked
    "address": {"kind": "address"},
}}


@pytest.fixture
async def talked_today(api, customer) -> dict:
    """The customer's two calls (Anna's, then Boris's) moved to an hour ago: Anna was on a
    call with the customer recently, so she may read the card."""
    now = datetime.now(UTC)
    async with api.service.sessions() as session:
        for linkedid, ago in (("call-anna", 60), ("call-boris", 30)):
            when = now - timedelta(minutes=ago)
            await session.execute(update(Call).where(Call.linkedid == linkedid).values(
                started_at=when, answered_at=when, ended_at=when + timedelta(minutes=1)))
        await session.commit()
    return customer


async def card_reads(api) -> list[tuple[str, str | None, str | None]]:
    async with api.service.sessions() as session:
        return [(e.username, e.object_id, e.details) for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "contact.read")
            .order_by(AuditEntry.id))]


async def test_agent_sees_what_the_declared_kinds_allow(api, talked_today):
    response = await api.client.put("/admin/card-fields", headers=api.headers("admin"),
                                    json=DECLARED)
    assert response.status_code == 200, response.text
    pop = (await api.get("/screenpop", "agent", params={"number": "+7 916 123-45-67"})).json()
    card = pop["contact"]
    assert card["name"] == "Иван Петров" and card["vip"] and not pop["new"]
    # passport: identity document, never; address: never; contract: undeclared, hidden
    assert card["fields"] == {"company": "Roga i Kopyta"}
    assert "email" not in card and "notes" not in card  # notes: free text not marked visible
    numbers = {n["label"]: n["number"] for n in card["numbers"]}
    assert numbers == {"mobile": "+79161234567", "work": "********4567"}


async def test_notes_reach_agents_only_when_an_admin_marks_them_visible(api, talked_today):
    await api.client.put("/admin/card-fields", headers=api.headers("admin"),
                         json={**DECLARED, "notes_agent_visible": True})
    pop = (await api.get("/screenpop", "agent", params={"number": "89161234567"})).json()
    assert pop["contact"]["notes"] == "prefers mornings"
    declared = (await api.get("/admin/card-fields", "admin")).json()
    assert declared["notes_agent_visible"] is True
    assert declared["fields"]["passport"] == {"kind": "identity_document",
                                              "agent_visible": True}


async def test_fields_marked_visible_before_kinds_existed_stay_hidden(api, talked_today):
    """A card_fields row without a kind (as the migration leaves old ones) is undeclared."""
    from callcenter.contacts.models import CardField
    async with api.service.sessions() as session:
        session.add(CardField(name="company", agent_visible=True, kind=None))
        await session.commit()
    pop = (await api.get("/screenpop", "agent", params={"number": "89161234567"})).json()
    assert pop["contact"]["fields"] == {}


async def test_agents_read_cards_only_of_numbers_they_were_on_a_call_with(api, customer):
    """Anna's call with the customer was days ago (beyond the 24 h window): no card."""
    contact_id = customer["contact_id"]
    assert (await api.get("/screenpop", "agent",
                          params={"number": "89161234567"})).status_code == 404
    assert (await api.get(f"/contacts/{contact_id}", "agent")).status_code == 404
    assert (await api.get("/screenpop", "agent",
                          params={"number": "+7 999 000-00-00"})).status_code == 404
    # while the customer rings her phone, she may
    api.service.pops.on_event({"Event": "AgentCalled", "Interface": "Local/2001@cc-test-agent/n",
                               "Linkedid": "live-1", "CallerIDNum": "79161234567"})
    assert (await api.get("/screenpop", "agent",
                          params={"number": "89161234567"})).status_code == 200
    assert (await api.get(f"/contacts/{contact_id}", "agent")).status_code == 200
    # Boris is not the one rung
    assert (await api.get(f"/contacts/{contact_id}", "other_agent")).status_code == 404
    api.service.pops.on_event({"Event": "AgentComplete", "Interface": "Local/2001@cc-test-agent/n",
                               "Linkedid": "live-1"})
    assert (await api.get(f"/contacts/{contact_id}", "agent")).status_code == 404
    # answered, then the caller hangs up without an AgentComplete (say, AMI was away)
    for event in ({"Event": "AgentCalled", "CallerIDNum": "79161234567"},
                  {"Event": "AgentConnect"}, {"Event": "Hangup", "Uniqueid": "live-2"}):
        api.service.pops.on_event({"Interface": "Local/2001@cc-test-agent/n",
                                   "Linkedid": "live-2", **event})
    assert (await api.get(f"/contacts/{contact_id}", "agent")).status_code == 404
    assert await card_reads(api) == [("anna", str(contact_id), "via=screenpop"),
                                     ("anna", str(contact_id), "via=contact")]


async def test_every_card_an_agent_reads_is_audited_and_supervisors_reads_are_not(
        api, talked_today):
    contact_id = talked_today["contact_id"]
    assert (await api.get(f"/contacts/{contact_id}", "agent")).status_code == 200
    assert (await api.get("/screenpop", "agent", params={"number": "89161234567"})).status_code \
        == 200
    assert (await api.get(f"/contacts/{contact_id}", "supervisor")).status_code == 200
    assert await card_reads(api) == [("anna", str(contact_id), "via=contact"),
                                     ("anna", str(contact_id), "via=screenpop")]


async def test_values_the_policy_refuses_are_a_422_naming_the_field(api):
    await api.client.put("/admin/card-fields", headers=api.headers("admin"), json={"fields": {
        "comment": {"kind": "free_text"}, "Паспорт": {"kind": "identity_document"}}})
    response = await api.post("/contacts", "supervisor", json={
        "name": "Олег", "numbers": ["+79160000001"], "notes": "звонить на +7 916 000-00-02",
        "fields": {"comment": "пишите на oleg@example.com", "Паспорт": "4509 123456",
                   "email": "oleg@example.com"}})
    assert response.status_code == 422
    refused = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert set(refused) == {("body", "notes"), ("body", "fields", "comment"),
                            ("body", "fields", "email")}  # a passport in its own kind is fine
    assert "e-mail" in refused[("body", "fields", "comment")]
    async with api.service.sessions() as session:
        assert list(await session.scalars(select(Contact))) == []  # nothing half-written
    ok = await api.post("/contacts", "supervisor", json={
        "name": "Олег", "numbers": ["+79160000001"], "notes": "звонить после обеда",
        "fields": {"comment": "постоянный клиент", "Паспорт": "4509 123456"}})
    assert ok.status_code == 201, ok.text
    patched = await api.client.patch(f"/contacts/{ok.json()['id']}",
                                     headers=api.headers("supervisor"),
                                     json={"name": "oleg@example.com"})
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "name"]


async def test_import_rows_the_policy_refuses_are_row_errors(api):
    await api.client.put("/admin/card-fields", headers=api.headers("admin"), json={"fields": {
        "remark": {"kind": "free_text", "agent_visible": True}}})
    data = ("name,phone,remark\nАнна,+79160000011,VIP\nБорис,+79160000012,СНИЛС 112-233-445 95\n"
            .encode())
    response = await api.post("/contacts/import", "supervisor",
                              files={"file": ("c.csv", data, "text/csv")})
    body = response.json()
    assert body["created"] == 1
    assert [e["line"] for e in body["errors"]] == [3]
    assert body["errors"][0]["errors"][0].startswith("remark: looks like a phone")


async def test_admins_cannot_redeclare_built_in_fields(api):
    response = await api.client.put("/admin/card-fields", headers=api.headers("admin"),
                                    json={"fields": {"email": {"kind": "free_text",
                                                               "agent_visible": True}}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "fields", "email"]


async def test_supervisor_sees_everything(api, customer):
    pop = (await api.get("/screenpop", "supervisor", params={"number": "89161234567"})).json()
    card = pop["contact"]
    assert card["email"] == "ivan@example.com"
    assert card["fields"]["passport"] == "4509 123456"
    assert {n["number"] for n in card["numbers"]} == {"+79161234567", "+74951234567"}


async def test_screen_pop_finds_the_caller_however_the_number_is_written(api, talked_today):
    for written in ("+7 916 123-45-67", "89161234567", "79161234567", "007 916 1234567",
                    "+7 (916) 123 45 67"):
        pop = (await api.get("/screenpop", "agent", params={"number": written})).json()
        assert pop["contact"]["name"] == "Иван Петров", written
        assert [c["linkedid"] for c in pop["last_calls"]] == ["call-boris", "call-anna"]


async def test_unknown_number_is_an_empty_card_marked_new(api):
    response = await api.get("/screenpop", "supervisor", params={"number": "+7 999 000-00-00"})
    assert response.status_code == 200
    assert response.json()["new"] and response.json()["contact"] is None


async def test_agents_see_only_their_own_calls_and_recordings(api, talked_today):
    customer = talked_today
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


async def test_transfer_targets_are_masked_for_agents_in_json_and_csv(api, customer):
    async with api.service.sessions() as session:
        await session.execute(update(Call).where(Call.linkedid == "call-anna").values(
            transfer_target="+79035550011", caller_name="ivan@example.com"))
        await session.commit()
    [call] = (await api.get("/calls", "agent")).json()
    assert call["transfer_target"] == "********0011"
    assert call["caller_name"] == "***@***"
    csv_text = (await api.get("/calls", "agent", params={"format": "csv"})).text
    assert "********0011" in csv_text and "+79035550011" not in csv_text
    supervisor = (await api.get("/calls", "supervisor", params={"linkedid": "call-anna"})).json()
    assert supervisor[0]["transfer_target"] == "+79035550011"
