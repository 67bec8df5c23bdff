"""Property: whatever fields admins declare and supervisors fill in (Russian or English names,
real-looking passports, e-mails, addresses, phone numbers), nothing restricted reaches an agent
through any output: screen pop over HTTP and WebSocket, contact JSON, call JSON and CSV,
callbacks."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.calls.pops import Subscriber

ANNA = "Local/2001@cc-test-agent/n"
_numbers = itertools.count(1)

FIELD_NAMES = ["passport_no", "Паспорт", "e-mail2", "адрес_доставки", "company", "remark",
               "Комментарий", "birth_date", "snils", "ИНН", "phone2", "home_address",
               "contract", "заметка", "Дата рождения", "Work e-mail"]
field_name = st.builds(lambda base, tail: base + tail, st.sampled_from(FIELD_NAMES),
                       st.sampled_from(["", "_2", " (old)", "X"]))

passports = st.one_of(
    st.builds("{:04d} {:06d}".format, st.integers(1000, 9999), st.integers(100000, 999999)),
    st.builds("серия {:02d} {:02d} номер {:06d}".format, st.integers(10, 99),
              st.integers(10, 99), st.integers(100000, 999999)),
    st.builds("{:03d}-{:03d}-{:03d} {:02d}".format, *[st.integers(100, 999)] * 3,
              st.integers(10, 99)),  # SNILS
    st.builds(str, st.integers(10**9, 10**10 - 1)),  # INN
    st.builds("AB{:07d}".format, st.integers(1000000, 9999999)))
emails = st.builds("{}{}@{}".format, st.sampled_from(["ivan", "olga.petrova", "john_smith",
                                                      "иван", "k+sales"]),
                   st.integers(0, 999), st.sampled_from(["example.com", "mail.ru",
                                                         "пример.рф", "corp.co.uk"]))
addresses = st.builds("{}, {} {}, кв. {}".format,
                      st.sampled_from(["г. Москва", "Санкт-Петербург", "London", "Berlin"]),
                      st.sampled_from(["ул. Тверская", "Невский пр.", "Baker Street",
                                       "Unter den Linden"]),
                      st.integers(1, 300), st.integers(1, 500))
free_text = st.one_of(st.sampled_from(["Roga i Kopyta", "постоянный клиент", "VIP",
                                       "звонить после обеда", "prefers mornings",
                                       "договор C-17"]),
                      st.text(st.characters(categories=["L"]), min_size=6, max_size=20))
names = st.sampled_from(["Иван Петров", "John Smith", "Ольга", "Mary-Jane O'Neil"])
dates = st.sampled_from(["1985-03-12", "12.03.1985", "2001-12-31"])


def phones() -> st.SearchStrategy[tuple[str, str]]:
    """(as written, E.164) for a Russian mobile number of its own."""
    return st.builds(_phone, st.sampled_from(["+7 {} {}-{}-{}", "8{}{}{}{}", "+7({}){}{}{}"]))


def _phone(pattern: str) -> tuple[str, str]:
    n = next(_numbers)
    digits = f"93{n:08d}"
    written = pattern.format(digits[:3], digits[3:6], digits[6:8], digits[8:])
    return written, "+7" + digits


restricted_looking = st.one_of(passports, emails, phones().map(lambda p: p[0]))
BY_KIND = {"identity_document": passports, "email": emails, "address": addresses,
           "phone": phones().map(lambda p: p[0]), "name": names, "date": dates,
           "free_text": free_text, None: st.one_of(passports, emails, addresses, free_text)}


@st.composite
def declared_field(draw: st.DrawFn) -> tuple[str | None, bool, str, bool]:
    """(kind, agent-visible, value, whether the value is personal data agents may not see
    whatever field it sits in)."""
    kind = draw(st.sampled_from(list(BY_KIND)))
    visible = draw(st.booleans())
    # text kinds sometimes get what they must not hold: refused, or at least never shown
    adversarial = kind in ("name", "date", "free_text") and draw(st.booleans())
    value = draw(restricted_looking if adversarial else BY_KIND[kind])
    return kind, visible, value, adversarial


contacts = st.fixed_dictionaries({
    "fields": st.dictionaries(field_name, declared_field(), min_size=1, max_size=5),
    "name": names,
    "email": emails,
    "own": phones(),
    "others": st.lists(phones(), min_size=1, max_size=2),
    "notes": st.one_of(free_text.map(lambda v: (v, False)),
                       restricted_looking.map(lambda v: (v, True))),
    "notes_visible": st.booleans(),
})


def _compact(text: str) -> str:
    return re.sub(r"[\s()\-]", "", text)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(example=contacts)
async def test_no_restricted_value_reaches_an_agent(api, example):
    fields = example["fields"]
    declared = {name: {"kind": kind, "agent_visible": visible}
                for name, (kind, visible, _, _) in fields.items() if kind is not None}
    response = await api.client.put("/admin/card-fields", headers=api.headers("admin"), json={
        "fields": declared, "notes_agent_visible": example["notes_visible"]})
    assert response.status_code == 200, response.text
    own_written, own = example["own"]
    notes, sensitive_notes = example["notes"]
    body = {"name": example["name"], "email": example["email"], "notes": notes,
            "numbers": [own_written, *[w for w, _ in example["others"]]],
            "fields": {name: value for name, (_, _, value, _) in fields.items()}}
    created = await api.post("/contacts", "supervisor", json=body)
    if created.status_code == 422:  # refused values: each names its field; drop them
        refused = [e["loc"] for e in created.json()["detail"]]
        for loc in refused:
            assert loc[:2] in (["body", "notes"], ["body", "name"]) or loc[1] == "fields", loc
            if loc[1] == "fields":
                del body["fields"][loc[2]]
            else:
                body[loc[1]] = None
        created = await api.post("/contacts", "supervisor", json=body)
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]

    shown_values = {body["name"]}
    restricted = {example["email"]}
    if body["notes"]:
        visible = example["notes_visible"] and not sensitive_notes
        (shown_values if visible else restricted).add(body["notes"])
    for name, value in body["fields"].items():
        kind, visible, _, sensitive = fields[name]
        if visible and kind in ("name", "date", "free_text") and not sensitive:
            shown_values.add(value)
        else:
            restricted.add(value)
    # the same words may legitimately sit in a visible field
    restricted = {r for r in restricted if not any(r in shown for shown in shown_values)}
    other_numbers = [e164 for _, e164 in example["others"]]
    other_numbers += [_phone_e164(fields[name][2]) for name in body["fields"]
                      if fields[name][0] == "phone"]

    # Anna talks to the customer: a finished call today, transferred to another of their numbers
    now = datetime.now(UTC)
    async with api.service.sessions() as session:
        session.add(Call(linkedid=f"prop-{contact_id}", direction="inbound", caller=own,
                         caller_name=body["name"], called=other_numbers[0],
                         transfer_target=other_numbers[-1], started_at=now - timedelta(minutes=5),
                         answered_at=now - timedelta(minutes=5), ended_at=now, agent="Anna",
                         outcome="transferred", end_inferred=False))
        session.add(Callback(number=other_numbers[-1], queue="support", source="abandoned",
                             requested_at=now, status="open"))
        await session.commit()
    reads_before = await _card_reads(api)

    outputs = [
        (await api.get("/screenpop", "agent", params={"number": own_written})).text,
        (await api.get(f"/contacts/{contact_id}", "agent")).text,
        (await api.get("/calls", "agent", params={"linkedid": f"prop-{contact_id}"})).text,
        (await api.get("/calls", "agent", params={"format": "csv",
                                                  "linkedid": f"prop-{contact_id}"})).text,
        (await api.get("/callbacks", "agent")).text,
        json.dumps(await _ring(api, own_written, f"ring-{contact_id}"), ensure_ascii=False),
    ]
    pop = json.loads(outputs[0])
    assert pop["contact"]["id"] == contact_id and pop["contact"]["name"] == body["name"]
    text = "\n".join(outputs)
    for value in restricted:
        assert value not in text, (value, text)
        assert json.dumps(value, ensure_ascii=False)[1:-1] not in text, (value, text)
    compact = _compact(text)
    for number in other_numbers:
        assert number[-10:] not in compact, (number, text)
    assert own in text  # the caller's own number is theirs to see
    assert await _card_reads(api) == reads_before + 3  # HTTP pop, contact, ring


def _phone_e164(written: str) -> str:
    return "+7" + re.sub(r"\D", "", written)[-10:]


async def _card_reads(api) -> int:
    async with api.service.sessions() as session:
        return len(list(await session.scalars(
            select(AuditEntry.id).where(AuditEntry.action == "contact.read"))))


async def _ring(api, caller: str, linkedid: str) -> dict:
    """The pop Anna's browser gets over the WebSocket when the customer rings her phone."""
    hub = api.service.pops
    got: asyncio.Queue[dict] = asyncio.Queue()
    subscriber = Subscriber(ANNA, "Anna", "agent", got.put, username="anna")
    serving = asyncio.ensure_future(hub.serve(subscriber))
    while not hub.connected(ANNA):
        await asyncio.sleep(0)
    hub.on_event({"Event": "AgentCalled", "Interface": ANNA, "Linkedid": linkedid,
                  "CallerIDNum": caller, "Queue": "support"})
    message = await asyncio.wait_for(got.get(), 10)
    hub.on_event({"Event": "AgentComplete", "Interface": ANNA, "Linkedid": linkedid})
    subscriber.closed.set()
    await serving
    await asyncio.gather(*hub._tasks)  # the ring's audit entry is written beside the pop
    return message
