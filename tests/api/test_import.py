"""Importing messy customer lists from CSV and XLSX."""

from __future__ import annotations

import asyncio
import io
import json

from openpyxl import Workbook
from sqlalchemy import func, select

from callcenter.contacts.importer import Report, apply, parse_file, spooled
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.outbox.contacts import contact_changed_event
from callcenter.outbox.models import OutboxEvent, OutboxStaged
from callcenter.outbox.staged import release

MESSY_CSV = """ФИО;Телефон;E-mail;Комментарий;Company;VIP
Иван Петров;+7 916 123-45-67;IVAN@example.com;first;Roga;да
Пётр Сидоров;8 (903) 111-22-33, 8 903 111 22 34;petr@example.com;;Kopyta;
;+7 999 000 00 01;nobody@example.com;no name;;
Анна Битая;12;anna@example;bad phone and mail;;
Иван П.;89161234567;;same phone as line 2;;
Мария;+7 495 765 43 21;ivan@example.com;same e-mail as line 2;;
""".encode("cp1251")


async def upload(api, name, data, **form):
    return await api.client.post("/contacts/import", headers=api.headers("supervisor"),
                                 files={"file": (name, data)}, data=form)


async def count(api, model) -> int:
    async with api.service.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_messy_csv_reports_bad_rows_and_duplicates_and_imports_the_rest(api):
    response = await upload(api, "clients.csv", MESSY_CSV)
    body = response.json()
    assert response.status_code == 200 and body["imported"]
    assert body["created"] == 2
    assert [d["line"] for d in body["skipped_duplicates"]] == [6, 7]
    errors = {e["line"]: e["errors"] for e in body["errors"]}
    assert errors[4] == ["no name"]
    assert any("not a phone number: 12" in e for e in errors[5])
    assert any("e-mail" in e for e in errors[5])
    async with api.service.sessions() as session:
        petr = await session.scalar(select(Contact).where(Contact.name == "Пётр Сидоров"))
        assert sorted(n.number for n in petr.numbers) == ["+79031112233", "+79031112234"]
        assert petr.fields == {"Company": "Kopyta"}
        ivan = await session.scalar(select(Contact).where(Contact.name == "Иван Петров"))
        assert ivan.vip and ivan.email == "ivan@example.com"


async def test_merge_adds_new_numbers_to_the_existing_contact(api):
    await upload(api, "clients.csv", MESSY_CSV)
    csv = "name,phone,notes\nИван Петров,+7 916 123-45-67; +7 916 765-43-21,called back\n"
    body = (await upload(api, "more.csv", csv.encode(), on_duplicate="merge")).json()
    assert (body["created"], body["merged"]) == (0, 1)
    async with api.service.sessions() as session:
        ivan = await session.scalar(select(Contact).where(Contact.name == "Иван Петров"))
        assert {"+79161234567", "+79167654321"} <= {n.number for n in ivan.numbers}
        assert "called back" in ivan.notes


async def test_xlsx_with_a_mapping_and_numbers_stored_as_numbers(api):
    book = Workbook()
    sheet = book.active
    sheet.append(["Client", "Mobile", "Mail", "Passport"])
    sheet.append(["Olga", 79261234567, "olga@example.com", "4510 654321"])
    sheet.append(["Oleg", "8-926-765-43-21", None, None])
    sheet.append([None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    mapping = json.dumps({"name": "Client", "phones": "Mobile", "email": "Mail"})
    body = (await upload(api, "list.xlsx", buffer.getvalue(), mapping=mapping)).json()
    assert (body["created"], body["errors"]) == (2, [])
    async with api.service.sessions() as session:
        olga = await session.scalar(select(Contact).where(Contact.name == "Olga"))
        assert [n.number for n in olga.numbers] == ["+79261234567"]
        assert olga.fields == {"Passport": "4510 654321"}


async def test_strict_import_with_a_bad_row_imports_nothing(api):
    body = (await upload(api, "clients.csv", MESSY_CSV, strict="true")).json()
    assert not body["imported"] and body["errors"]
    assert await count(api, Contact) == 0


async def test_bad_uploads_get_a_clear_error_and_change_nothing(api):
    for name, data, expected in [
        ("list.pdf", b"%PDF-1.4", "expected a .csv or .xlsx"),
        ("list.xlsx", b"not a zip", "not a readable XLSX"),
        ("list.csv", b"foo,bar\n1,2\n", "no name or phone column"),
        ("list.csv", b"", "empty"),
    ]:
        response = await upload(api, name, data)
        assert response.status_code == 422, name
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "file"] and expected in error["msg"], name
    response = await upload(api, "c.csv", b"a,b\n", mapping='{"name": "nope"}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "mapping"]
    assert await count(api, Contact) == 0 and await count(api, ContactNumber) == 0


async def contact_events(api) -> list[OutboxEvent]:
    async with api.service.sessions() as session:
        return list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.type == "contact.changed").order_by(OutboxEvent.id)))


async def test_an_import_tells_the_crm_about_each_contact_once(api):
    before = len(await contact_events(api))
    body = (await upload(api, "clients.csv", MESSY_CSV)).json()
    assert await count(api, OutboxStaged) == 0  # released by the request, after its commit
    created = (await contact_events(api))[before:]
    assert [e.payload["change"] for e in created] == ["created"] * body["created"]
    assert len({e.payload["contact_id"] for e in created}) == body["created"]
    ivan = next(e for e in created if e.payload["name"] == "Иван Петров")
    assert ivan.ordering_key == f"contact-{ivan.payload['contact_id']}"
    assert ivan.payload["email"] == "ivan@example.com"
    assert "Roga" in ivan.payload["fields"].values()
    async with api.service.sessions() as session:  # what POST /contacts would have sent
        stored = await session.get(Contact, ivan.payload["contact_id"])
        assert ivan.payload == contact_changed_event(stored, "created").payload

    # strict, and a row whose numbers belong to two contacts: nothing imported, nothing told
    conflict = "name,phone\nX,+7 916 123-45-67; 8 903 111 22 33\n"
    body = (await upload(api, "bad.csv", conflict.encode(), on_duplicate="merge",
                         strict="true")).json()
    assert not body["imported"]
    assert len(await contact_events(api)) == before + len(created)

    csv = "name,phone,notes\nИван Петров,+7 916 123-45-67; +7 916 765-43-21,called back\n"
    body = (await upload(api, "more.csv", csv.encode(), on_duplicate="merge")).json()
    assert (body["created"], body["merged"]) == (0, 1)
    [merged] = (await contact_events(api))[before + len(created):]
    assert merged.payload["contact_id"] == ivan.payload["contact_id"]
    assert merged.payload["change"] == "updated" and "called back" in merged.payload["notes"]
    assert {n["number"] for n in merged.payload["numbers"]} == {"+79161234567", "+79167654321"}


async def test_a_contact_edited_before_its_import_is_released_is_told_created_first(
        api, tmp_path):
    """The service was killed between an import's commit and its release: its events are
    staged. Editing one of its contacts sends that contact's `created` first, then `updated`;
    the others wait for the release (the deliverer's next turn)."""
    csv = tmp_path / "c.csv"
    csv.write_text("name,phone\nAnna,+79991110001\nBoris,+79991110002\nVera,+79991110003\n")
    parsed = await asyncio.to_thread(parse_file, csv, csv.name, None, "RU", tmp_path / "rows")
    async with api.service.sessions() as session, session.begin():
        await apply(session, spooled(parsed.spool), on_duplicate="skip", report=Report())
    assert await count(api, OutboxStaged) == 3 and await contact_events(api) == []
    async with api.service.sessions() as session:
        boris = await session.scalar(select(Contact.id).where(Contact.name == "Boris"))
    response = await api.client.patch(f"/contacts/{boris}", headers=api.headers("supervisor"),
                                      json={"notes": "wants a call back"})
    assert response.status_code == 200
    told = await contact_events(api)
    assert [(e.payload["contact_id"], e.payload["change"]) for e in told] == [
        (boris, "created"), (boris, "updated")]
    assert told[1].payload["notes"] == "wants a call back"
    assert await count(api, OutboxStaged) == 2
    assert await release(api.service.sessions) == 2
    assert [e.payload["name"] for e in await contact_events(api)][2:] == ["Anna", "Vera"]


async def test_a_contact_forgotten_before_its_import_is_released_is_never_told_in_full(
        api, tmp_path):
    """Forgetting a person whose import events are still staged: they reach the outbox
    scrubbed, before the `forgotten` event, and the name is nowhere in the outbox."""
    csv = tmp_path / "c.csv"
    csv.write_text("name,phone\nGalina Forgetme,+79991110011\nDmitry,+79991110012\n")
    parsed = await asyncio.to_thread(parse_file, csv, csv.name, None, "RU", tmp_path / "rows")
    async with api.service.sessions() as session, session.begin():
        await apply(session, spooled(parsed.spool), on_duplicate="skip", report=Report())
    async with api.service.sessions() as session:
        galina = await session.scalar(select(Contact.id).where(Contact.name == "Galina Forgetme"))
    response = await api.client.delete(f"/contacts/{galina}", headers=api.headers("admin"),
                                       params={"forget": "true"})
    assert response.status_code == 200
    assert await release(api.service.sessions) == 1  # Dmitry's
    told = await contact_events(api)
    assert [e.payload for e in told if e.ordering_key == f"contact-{galina}"] == [
        {"forgotten": True}, {"contact_id": galina, "change": "forgotten"}]
    assert [e.payload["name"] for e in told if e.ordering_key != f"contact-{galina}"] == [
        "Dmitry"]
    assert all("Forgetme" not in json.dumps(e.payload) for e in told)


async def test_an_import_whose_release_fails_still_answers_and_its_events_wait_staged(
        api, monkeypatch):
    """The release runs after the commit: its failure (the database gone for a moment) is
    logged, the import is reported as done, and the deliverer's next turn releases them."""
    from callcenter.outbox import staged as staging

    async def unavailable(*_args, **_kw) -> int:
        raise ConnectionError("the database went away after the commit")

    monkeypatch.setattr(staging, "release", unavailable)
    body = (await upload(api, "c.csv", b"name,phone\nZoya,+79991110021\n")).json()
    assert body["imported"] and body["created"] == 1
    assert await count(api, OutboxStaged) == 1 and await contact_events(api) == []
    monkeypatch.undo()
    assert await release(api.service.sessions) == 1
    [told] = await contact_events(api)
    assert told.payload["name"] == "Zoya"
