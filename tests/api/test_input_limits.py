"""Input a column, Asterisk or the clock cannot hold is a 422 naming the field, never a 500.

Each test sends what broke the service in the hostile-input review and checks the answer a
client reads: the status, and `detail[].loc` pointing at the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, text

from callcenter.api.app import create_app
from callcenter.audit.models import AuditEntry
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.limits import INT32_MAX, INT64_MAX, InvalidInput, column_length
from callcenter.migrate import upgrade
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.models import User
from callcenter.users.service import create_token, create_user
from tests.rig import free_port
from tests.unit.fake_ami import FakeAMI


def locs(response: httpx.Response) -> list[list[str | int]]:
    """Where a 422 says the problem is; fails unless the body has FastAPI's 422 shape."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    for error in detail:
        assert set(error) >= {"loc", "msg", "type"}
    return [error["loc"] for error in detail]


async def test_ids_beyond_the_integer_column_are_422(api, customer):
    for path in (f"/contacts/{INT32_MAX + 1}", f"/contacts/{2**63}",
                 f"/recordings/{2**64}"):
        response = await api.get(path, "supervisor")
        assert locs(response)[0][0] == "path", path
    assert (await api.get(f"/contacts/{INT32_MAX}", "supervisor")).status_code == 404


async def test_offset_and_limit_bounds(api):
    assert locs(await api.get("/calls", "supervisor", params={"offset": 2**63})) == [
        ["query", "offset"]]
    assert (await api.get("/calls", "supervisor",
                          params={"offset": INT64_MAX})).json() == []
    assert locs(await api.get("/contacts", "supervisor", params={"limit": 10**6})) == [
        ["query", "limit"]]


async def test_year_one_and_overflowing_dates_are_422(api):
    for since in ("0001-01-01T00:00:00", "0001-01-01T00:00:00+05:00",
                  "9999-12-31T23:00:00-05:00"):
        response = await api.get("/calls", "supervisor", params={"since": since})
        assert locs(response) == [["query", "since"]], since
    response = await api.get("/queues/stats", "supervisor", params={"until": "0001-01-01"})
    assert locs(response) == [["query", "until"]]


async def test_naive_datetimes_are_utc(api, customer):
    """The call started 10:01 UTC: a naive 10:00 finds it, a naive 10:02 does not."""
    found = await api.get("/calls", "supervisor", params={"since": "2026-11-20T10:01:30"})
    assert [c["linkedid"] for c in found.json()] == ["call-boris"]
    found = await api.get("/calls", "supervisor", params={"since": "2026-11-20T10:01:30Z"})
    assert [c["linkedid"] for c in found.json()] == ["call-boris"]


async def test_nul_characters_are_refused_everywhere(api, customer):
    response = await api.post("/contacts", "supervisor",
                              json={"name": "Ann\x00a", "numbers": ["+79161110000"]})
    assert locs(response) == [["body", "name"]]
    response = await api.get("/contacts", "supervisor", params={"q": "a\x00"})
    assert locs(response) == [["query", "q"]]
    response = await api.get("/calls", "supervisor", params={"agent": "Anna\x00"})
    assert locs(response) == [["query", "agent"]]
    response = await api.post("/auth/login", None,
                              json={"username": "root\x00", "password": "x"})
    assert locs(response) == [["body", "username"]]


async def test_a_422_does_not_echo_the_input_and_survives_text_that_is_not_unicode(api):
    for password, secret in (("\\ud800 Zebra-7 lone surrogate", "Zebra-7"), ("Qx7", "Qx7")):
        response = await api.client.post(
            "/users", headers={**api.headers("admin"), "Content-Type": "application/json"},
            content=b'{"username": "x", "role": "admin", "password": "%s"}'
            % password.encode())
        assert locs(response) == [["body", "password"]]
        assert secret not in response.text


async def test_strings_longer_than_their_column_are_422(api):
    longest = column_length(Contact.name)
    response = await api.post("/contacts", "supervisor",
                              json={"name": "N" * (longest + 1), "numbers": ["+79161110000"]})
    assert locs(response) == [["body", "name"]]
    response = await api.post("/contacts", "supervisor",
                              json={"name": "N" * longest, "numbers": ["+79161110000"]})
    assert response.status_code == 201


@pytest.mark.parametrize("field, value", [
    ("agent_name", "Anna\r\nAction: Originate"), ("agent_name", "Anna,Boris"),
    ("interface", "PJSIP/1001\r\n"), ("interface", "PJSIP/1001,PJSIP/1002"),
    ("outbound_callerid", "+7495\n1234567"),
])
async def test_values_for_asterisk_cannot_carry_cr_lf_or_commas(api, field, value):
    user = {"username": "newagent", "role": "agent", "agent_name": "Vera",
            "interface": "PJSIP/1003", field: value}
    assert locs(await api.post("/users", "admin", json=user)) == [["body", field]]
    async with api.service.sessions() as session:  # the CLI path: the same check
        with pytest.raises(InvalidInput) as refused:
            await create_user(session, **{k: v for k, v in user.items()})
    assert refused.value.field == field


async def test_queue_names_and_reasons_for_asterisk_are_checked(api):
    response = await api.post("/agents/me", "agent",
                              json={"action": "login", "queues": ["support\r\nAction: Logoff"]})
    assert locs(response) == [["body", "queues", 0]]
    response = await api.post("/agents/me", "agent",
                              json={"action": "pause", "reason": "lunch\r\nAction: Logoff"})
    assert locs(response) == [["body", "reason"]]
    response = await api.post("/agents/me", "agent", json={"action": "login"})
    assert locs(response) == [["body"]]


async def test_a_user_stored_with_a_line_break_gets_409_and_nothing_reaches_asterisk(api):
    """Users written before the checks existed: refused with a reason, never a 500."""
    fake = await FakeAMI().start()
    client = api.service.ami.client
    client.port = fake.port
    running = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(10):
            await client.connected.wait()
        async with api.service.sessions() as session:
            user = User(username="old", role="agent", agent_name="Old",
                        interface="PJSIP/1009\r\nAction: Logoff", active=True)
            session.add(user)
            await session.flush()
            token = await create_token(session, user)
            await session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        for path, body in (("/agents/me", {"action": "pause", "reason": "lunch"}),
                           ("/calls", {"number": "+79161234567"})):
            response = await api.client.post(path, headers=headers, json=body)
            assert response.status_code == 409, response.text
            assert "correct the user" in response.json()["detail"]
        sent = {a["Action"] for a in fake.actions}
        assert "Login" in sent and not sent & {"QueuePause", "Originate", "Logoff"}
    finally:
        await client.stop()
        running.cancel()
        await fake.stop()


async def test_without_asterisk_agent_actions_and_click_to_call_answer_503(api, customer):
    response = await api.post("/calls", "agent", json={"number": "+79161234567"})
    assert response.status_code == 503 and "Asterisk" in response.json()["detail"]
    response = await api.post("/agents/me", "agent", json={"action": "logout"})
    assert response.status_code == 503


async def test_a_number_that_is_not_one_is_named_in_the_422(api):
    response = await api.post("/contacts", "supervisor",
                              json={"name": "Vera", "numbers": ["+79161110000", "12"]})
    assert locs(response) == [["body", "numbers", 1]]


async def test_patch_with_null_is_422_naming_the_field_and_null_clears_optional_ones(
        api, customer):
    path = f"/contacts/{customer['contact_id']}"
    response = await api.client.patch(path, headers=api.headers("supervisor"),
                                      json={"name": None})
    assert locs(response) == [["body", "name"]]
    response = await api.client.patch(path, headers=api.headers("supervisor"),
                                      json={"numbers": None, "vip": None})
    assert sorted(locs(response)) == [["body", "numbers"], ["body", "vip"]]
    response = await api.client.patch(path, headers=api.headers("supervisor"),
                                      json={"email": None})
    assert response.status_code == 200 and response.json()["email"] is None


async def test_import_mapping_that_is_not_strings_is_422(api):
    csv = "ФИО;Телефон\nВера;+79161110000\n".encode()
    for mapping in ('{"name": 5, "phones": "Телефон"}', '["ФИО"]', "{not json"):
        response = await api.client.post(
            "/contacts/import", headers=api.headers("supervisor"),
            files={"file": ("c.csv", csv)}, data={"mapping": mapping})
        assert locs(response) == [["body", "mapping"]], mapping


async def test_import_rows_too_long_or_with_nul_are_reported_not_500(api):
    long_name = "N" * (column_length(Contact.name) + 1)
    csv = f"name,phone\n{long_name},+79161110000\nVe\x00ra,+79161110001\nOk,+79161110002\n"
    response = await api.client.post("/contacts/import", headers=api.headers("supervisor"),
                                     files={"file": ("c.csv", csv.encode())})
    body = response.json()
    assert response.status_code == 200 and body["created"] == 1
    assert {e["line"] for e in body["errors"]} == {2, 3}


async def test_merge_row_holding_two_contacts_numbers_is_reported_and_changes_nothing(api):
    for name, number in (("Ann", "+79161110001"), ("Bob", "+79161110002")):
        assert (await api.post("/contacts", "supervisor",
                               json={"name": name, "numbers": [number]})).status_code == 201
    csv = b"name,phone\nAnn Bob,+79161110001; +79161110002\nCid,+79161110003\n"
    response = await api.client.post(
        "/contacts/import", headers=api.headers("supervisor"),
        files={"file": ("c.csv", csv)}, data={"on_duplicate": "merge"})
    body = response.json()
    assert response.status_code == 200 and body["created"] == 1 and body["merged"] == 0
    assert body["errors"][0]["line"] == 2
    assert "different contacts" in body["errors"][0]["errors"][0]
    response = await api.client.post(
        "/contacts/import", headers=api.headers("supervisor"),
        files={"file": ("c.csv", csv.replace(b"Cid,+79161110003", b"Dan,+79161110004"))},
        data={"on_duplicate": "merge", "strict": "true"})
    assert response.json()["imported"] is False
    async with api.service.sessions() as session:
        owners = dict((await session.execute(
            select(ContactNumber.number, Contact.name).join(Contact))).all())
    assert owners == {"+79161110001": "Ann", "+79161110002": "Bob", "+79161110003": "Cid"}


async def test_csv_export_failing_midway_ends_with_an_error_line(api):
    """The query fails after its first batch of rows: a row the database cannot hand back
    (a start time that is not a date) sorts last, after 1,000 good ones."""
    from callcenter.api.calls import CSV_FAILED

    when = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    async with api.service.sessions() as session:
        session.add_all(Call(linkedid=f"good-{i}", direction="inbound", started_at=when,
                             outcome="answered", end_inferred=False) for i in range(1000))
        await session.flush()
        await session.execute(text(
            "INSERT INTO calls (linkedid, direction, started_at, outcome, end_inferred, vip, "
            "recording_opt_out, source) "
            "VALUES ('bad', 'inbound', '0000-not-a-date', 'answered', 0, 0, 0, 'ami')"))
        await session.commit()
    response = await api.get("/calls", "supervisor", params={"format": "csv"})
    assert response.status_code == 200  # sent with the header, before anything failed
    lines = response.text.splitlines()
    assert lines[0].startswith("linkedid,") and lines[1].startswith("good-")
    assert lines[-1] == CSV_FAILED.format(rows=len(lines) - 2)
    assert len(lines) - 2 == 1000


async def test_recording_head_and_if_none_match(api, customer):
    path = f"/recordings/{customer['anna_recording']}"
    full = await api.get(path, "supervisor")
    etag = full.headers["etag"]
    head = await api.client.head(path, headers=api.headers("supervisor"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    assert head.headers["content-length"] == str(len(full.content))
    cached = await api.get(path, "supervisor", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    other = await api.get(path, "supervisor", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == full.content
    converted = await api.client.head(path, headers=api.headers("supervisor"),
                                      params={"format": "mp3"})
    assert converted.status_code == 200 and converted.headers["etag"] != etag
    assert converted.headers["content-type"] == "audio/mpeg"
    async with api.service.sessions() as session:
        audited = list(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_id == str(customer["anna_recording"]))))
    assert audited == ["recording.download", "recording.download"]  # the two that sent it


async def test_openapi_bounds_every_string_parameter(api):
    """No string reaches a column or Asterisk without a length and a pattern (no NUL)."""
    document = (await api.client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    unbounded = []

    def walk(where: str, schema: dict) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            walk(f"{where}>{name}", schemas[name])
            return
        for sub in schema.get("anyOf", []):
            walk(where, sub)
        if schema.get("type") == "string" and not (
                {"enum", "const", "format", "contentMediaType"} & set(schema)) and (
                "maxLength" not in schema or "pattern" not in schema):
            unbounded.append(where)  # (files and date-times are bounded by their parsers)
        for name, prop in schema.get("properties", {}).items():
            walk(f"{where}.{name}", prop)
        if isinstance(schema.get("items"), dict):
            walk(f"{where}[]", schema["items"])
        if isinstance(schema.get("additionalProperties"), dict):
            walk(f"{where}{{}}", schema["additionalProperties"])
        if isinstance(schema.get("propertyNames"), dict):
            walk(f"{where}{{key}}", schema["propertyNames"])

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(f"{method} {path} {parameter['name']}", parameter["schema"])
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(f"{method} {path} body", content["schema"])
    assert unbounded == []


async def test_contact_search_on_postgresql(postgres, tmp_path):
    """`GET /contacts?q=` was a 500 on PostgreSQL for every q (DISTINCT over JSON)."""
    url = await asyncio.to_thread(postgres.create_database, "contact_search")
    await asyncio.to_thread(upgrade, url)
    service = Service(Settings(database_url=url, recordings_dir=tmp_path / "recordings",
                               spool_dir=tmp_path / "spool", ami_port=free_port(), agi_port=0))
    async with service.sessions() as session:
        user = await create_user(session, username="sue", role="supervisor")
        token = await create_token(session, user)
        session.add_all([
            Contact(name="Иван 100% Петров", email="ivan@example.com", fields={"a": "b"},
                    numbers=[ContactNumber(number="+79161234567"),
                             ContactNumber(number="+79161234568")]),
            Contact(name="Мария", email="maria@example.com",
                    numbers=[ContactNumber(number="+74951234567")])])
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(service=service))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            async def names(q: str) -> list[str]:
                response = await client.get("/contacts", params={"q": q},
                                            headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.text
                return [c["name"] for c in response.json()]

            assert await names("иван") == ["Иван 100% Петров"]  # once, for two numbers
            assert await names("9161234") == ["Иван 100% Петров"]
            assert await names("EXAMPLE") == ["Иван 100% Петров", "Мария"]
            assert await names("100%") == ["Иван 100% Петров"]
            assert await names("%") == ["Иван 100% Петров"]  # a literal %, not a wildcard
            assert await names("_") == []
    finally:
        await service.engine.dispose()
        await service.telephony_engine.dispose()
