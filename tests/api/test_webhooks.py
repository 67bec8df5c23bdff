"""The CRM integration's API on both databases: subscriptions (admins only, safe targets),
deliveries and dead letters, and GET /events (filtered by role, resumable from a cursor,
after a restart too, and 410 for a cursor older than the retention)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from callcenter.api.app import create_app
from callcenter.migrate import upgrade
from callcenter.outbox.deliver import purge
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.models import OutboxEvent
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.rig import free_port
from tests.webhook_receiver import Receiver

CALLER = "+79161234567"


class Api:
    def __init__(self, url: str, base) -> None:
        self.url, self.base = url, base
        self.tokens: dict[str, str] = {}
        self.service: Service | None = None
        self.client: httpx.AsyncClient | None = None

    async def start(self, seed: bool = False) -> None:
        settings = Settings(database_url=self.url, recordings_dir=self.base / "recordings",
                            spool_dir=self.base / "spool", ami_port=free_port(), agi_port=0,
                            secret_key="webhooks test key")
        self.service = Service(settings)
        if seed:
            async with self.service.sessions() as session:
                for username, role, agent in [("root", "admin", None), ("sue", "supervisor", None),
                                              ("anna", "agent", "Anna")]:
                    user = await create_user(session, username=username, role=role,
                                             agent_name=agent, password="correct horse",
                                             interface="Local/2001@x/n" if agent else None)
                    self.tokens[role] = await create_token(session, user)
                await session.commit()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(
            app=create_app(service=self.service)), base_url="http://test")

    async def stop(self) -> None:
        await self.client.aclose()
        self.service.workers.shutdown()
        await self.service.engine.dispose()
        await self.service.telephony_engine.dispose()

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def emit(self, *events: Event) -> list[str]:
        async with self.service.sessions() as session, session.begin():
            return await emit_many(session, events)


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/hooks.db"
    else:
        url = request.getfixturevalue("postgres").create_database(
            f"hooks_{uuid.uuid4().hex[:10]}")
    await asyncio.to_thread(upgrade, url)
    api = Api(url, tmp_path)
    await api.start(seed=True)
    yield api
    await api.stop()


NEW = {"url": "https://93.184.216.34/crm/hook", "events": ["call.ended", "contact.changed"],
       "role": "supervisor"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://10.0.0.7/hook",
                                 "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:8080/", "http://localhost/hook",
                                 "http://192.168.1.10/hook"])
async def test_a_subscription_to_a_private_address_is_refused(api, url):
    response = await api.client.post("/webhooks", json={**NEW, "url": url},
                                     headers=api.auth("admin"))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "url"] and "allow_private" in error["msg"]
    listed = await api.client.get("/webhooks", headers=api.auth("admin"))
    assert listed.json() == []


async def test_only_admins_subscribe_and_an_admin_may_allow_a_private_target(api):
    for role in ("supervisor", "agent"):
        response = await api.client.post("/webhooks", json=NEW, headers=api.auth(role))
        assert response.status_code == 403
    created = await api.client.post("/webhooks", json={
        **NEW, "url": "http://127.0.0.1:9000/hook", "allow_private": True},
        headers=api.auth("admin"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert len(body["secret"]) >= 32 and body["allow_private"] and body["role"] == "supervisor"
    listed = (await api.client.get("/webhooks", headers=api.auth("admin"))).json()
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]
    # turning the allowance off again is checked like a new target
    patched = await api.client.patch(f"/webhooks/{body['id']}", json={"allow_private": False},
                                     headers=api.auth("admin"))
    assert patched.status_code == 422
    patched = await api.client.patch(f"/webhooks/{body['id']}", json={"active": False},
                                     headers=api.auth("admin"))
    assert patched.json()["active"] is False
    assert (await api.client.delete(f"/webhooks/{body['id']}",
                                    headers=api.auth("admin"))).status_code == 204
    assert (await api.client.get(f"/webhooks/{body['id']}",
                                 headers=api.auth("admin"))).status_code == 404


async def test_the_catalogue_documents_every_event(api):
    spec = (await api.client.get("/openapi.json")).json()
    for name in ("CallRingingV1", "CallAnsweredV1", "CallEndedV1", "CallUpdatedV1",
                 "RecordingReadyV1", "CallbackCreatedV1", "ContactChangedV1",
                 "AgentStateChangedV1", "DispositionSavedV1", "EventOut"):
        assert name in spec["components"]["schemas"], name
    examples = (await api.client.get("/webhooks/catalogue", headers=api.auth("admin"))).json()
    assert examples["call_ended"]["outcome"] == "answered"


async def test_contact_changes_reach_the_stream_in_their_transaction(api):
    created = await api.client.post("/contacts", json={
        "name": "Иван Петров", "numbers": [CALLER], "email": "ivan@example.com"},
        headers=api.auth("supervisor"))
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    await api.client.patch(f"/contacts/{contact_id}", json={"vip": True},
                           headers=api.auth("supervisor"))
    # refused input changes nothing, so it emits nothing
    bad = await api.client.patch(f"/contacts/{contact_id}", json={"numbers": ["nonsense"]},
                                 headers=api.auth("supervisor"))
    assert bad.status_code == 422
    page = (await api.client.get("/events", headers=api.auth("supervisor"))).json()
    changes = [(e["type"], e["data"]["change"], e["data"]["vip"]) for e in page["events"]]
    assert changes == [("contact.changed", "created", False),
                       ("contact.changed", "updated", True)]
    assert page["events"][0]["data"]["email"] == "ivan@example.com"
    assert page["events"][0]["ordering_key"] == f"contact-{contact_id}"
    # agents do not get contact events at all
    agent = (await api.client.get("/events", headers=api.auth("agent"))).json()
    assert agent["events"] == [] and agent["next"] == page["next"]


async def test_agents_see_their_own_calls_masked(api):
    anna, boris = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    await api.emit(Event("call.ended", {"linkedid": anna, "caller": CALLER, "agent": "Anna"},
                         anna, "Anna"),
                   Event("call.ended", {"linkedid": boris, "caller": CALLER, "agent": "Boris"},
                         boris, "Boris"))
    mine = (await api.client.get("/events", headers=api.auth("agent"))).json()["events"]
    assert [e["ordering_key"] for e in mine] == [anna]
    assert mine[0]["data"]["caller"].endswith("4567") and "916123" not in \
        mine[0]["data"]["caller"]
    everything = (await api.client.get("/events", headers=api.auth("admin"))).json()["events"]
    assert [e["data"]["caller"] for e in everything] == [CALLER, CALLER]


async def test_the_stream_resumes_from_a_cursor_after_a_restart(api):
    first = await api.emit(*(Event("call.ringing", {"n": n}, "c1") for n in range(5)))
    page = (await api.client.get("/events", params={"limit": 3},
                                 headers=api.auth("admin"))).json()
    assert [e["id"] for e in page["events"]] == first[:3]
    cursor = page["next"]
    await api.stop()  # the service goes away; more happens meanwhile (another process)
    api2 = Api(api.url, api.base)
    await api2.start()
    api2.tokens = api.tokens
    later = await api2.emit(Event("call.ended", {"n": 5}, "c1"))
    await api2.stop()
    await api.start()
    page = (await api.client.get("/events", params={"after": cursor},
                                 headers=api.auth("admin"))).json()
    assert [e["id"] for e in page["events"]] == first[3:] + later
    assert [e["sequence"] for e in page["events"]] == sorted(e["sequence"]
                                                            for e in page["events"])
    # only some types
    page = (await api.client.get("/events", params={"types": "call.ended"},
                                 headers=api.auth("admin"))).json()
    assert [e["id"] for e in page["events"]] == later


async def test_a_long_poll_returns_when_an_event_is_committed(api):
    head = (await api.client.get("/events", headers=api.auth("admin"))).json()["next"]
    poll = asyncio.create_task(api.client.get(
        "/events", params={"after": head, "wait": 20}, headers=api.auth("admin")))
    await asyncio.sleep(0.3)  # the poll is waiting (nothing to await on from outside)
    assert not poll.done()
    started = asyncio.get_running_loop().time()
    [sent] = await api.emit(Event("call.ringing", {"n": 1}, "lp"))
    response = await asyncio.wait_for(poll, 10)
    assert [e["id"] for e in response.json()["events"]] == [sent]
    assert asyncio.get_running_loop().time() - started < 5


async def test_a_cursor_older_than_the_retention_is_gone(api):
    old = await api.emit(*(Event("call.ended", {"n": n}, "old") for n in range(3)))
    async with api.service.sessions() as session, session.begin():
        await session.execute(update(OutboxEvent).where(OutboxEvent.event_id.in_(old)).values(
            created_at=datetime.now(UTC) - timedelta(days=30)))
    new = await api.emit(Event("call.ended", {"n": 9}, "new"))
    assert await purge(api.service.sessions, days=7) == 3
    gone = await api.client.get("/events", params={"after": 1}, headers=api.auth("admin"))
    assert gone.status_code == 410 and "retention" in gone.json()["detail"]
    page = (await api.client.get("/events", params={"after": 3},
                                 headers=api.auth("admin"))).json()
    assert [e["id"] for e in page["events"]] == new


async def test_deliveries_failures_dead_letters_and_redelivery(api):
    receiver = Receiver("receiver-secret-0123456789")
    await receiver.start()
    created = (await api.client.post("/webhooks", json={
        "url": receiver.url, "events": ["call.ended"], "role": "admin",
        "secret": receiver.secret, "allow_private": True}, headers=api.auth("admin"))).json()
    api.service.settings.webhook_retry_base_seconds = 0.1
    api.service.settings.webhook_retry_hours = 0.6 / 3600
    receiver.status = 500
    from callcenter.outbox.deliver import Deliverer
    deliverer = Deliverer(api.service.sessions, api.service.settings)
    task = asyncio.create_task(deliverer.run())
    try:
        [sent] = await api.emit(Event("call.ended", {"n": 1}, "dl"))
        async with asyncio.timeout(20):
            while not (await api.client.get("/webhooks/dead-letters",
                                            headers=api.auth("admin"))).json():
                await asyncio.sleep(0.1)
        [dead] = (await api.client.get("/webhooks/dead-letters",
                                       headers=api.auth("admin"))).json()
        assert dead["event_id"] == sent and dead["state"] == "dead" and dead["attempts"] >= 2
        assert dead["last_status"] == 500 and dead["subscription_id"] == created["id"]
        listed = (await api.client.get("/webhooks/deliveries", params={"state": "dead"},
                                       headers=api.auth("admin"))).json()
        assert [d["id"] for d in listed] == [dead["id"]]
        assert (await api.client.get("/webhooks/deliveries",
                                     headers=api.auth("supervisor"))).status_code == 403
        receiver.status = 200
        again = await api.client.post(f"/webhooks/deliveries/{dead['id']}/redeliver",
                                      headers=api.auth("admin"))
        assert again.status_code == 200 and again.json()["state"] == "pending"
        arrived = await receiver.wait_for(lambda a: sent in {x.event_id for x in a}, 20)
        assert all(a.signature_valid for a in arrived)
        missing = await api.client.post("/webhooks/deliveries/999999/redeliver",
                                        headers=api.auth("admin"))
        assert missing.status_code == 404
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await receiver.stop()


async def test_forgetting_a_person_scrubs_their_events(api):
    created = await api.client.post("/contacts", json={"name": "Иван Петров",
                                                       "numbers": [CALLER]},
                                    headers=api.auth("supervisor"))
    contact_id = created.json()["id"]
    from callcenter.calls.models import Call
    async with api.service.sessions() as session, session.begin():
        session.add(Call(linkedid="forget-me", direction="inbound", caller=CALLER,
                         started_at=datetime.now(UTC), outcome="answered", agent="Anna"))
    _, kept = await api.emit(Event("call.ended", {"caller": CALLER, "outcome": "answered"},
                                   "forget-me", "Anna"),
                             Event("call.ended", {"caller": "+74950000001"}, "someone-else"))
    response = await api.client.delete(f"/contacts/{contact_id}", params={"forget": "true"},
                                       headers=api.auth("admin"))
    assert response.status_code == 200 and response.json()["outbox_events"] == 2
    events = (await api.client.get("/events", headers=api.auth("admin"))).json()["events"]
    assert [(e["type"], e["data"]) for e in events] == [
        ("contact.changed", {"forgotten": True}), ("call.ended", {"forgotten": True}),
        ("call.ended", {"caller": "+74950000001"}),
        ("contact.changed", {"contact_id": contact_id, "change": "forgotten"})]
    assert events[2]["id"] == kept
    assert CALLER not in str(events)


async def test_the_list_counts_each_subscriptions_failing_and_dead_deliveries(api):
    """What the console's Webhooks page shows per subscription (branch hookui)."""
    from callcenter.outbox.deliver import Deliverer
    from callcenter.outbox.models import WebhookDelivery
    made = [(await api.client.post("/webhooks", json=NEW, headers=api.auth("admin"))).json()
            for _ in range(2)]
    await api.emit(*(Event("call.ended", {"n": n}, f"count-{n}") for n in range(3)))
    assert await Deliverer(api.service.sessions, api.service.settings).fan_out() == 6
    async with api.service.sessions() as session, session.begin():
        first = WebhookDelivery.subscription_id == made[0]["id"]
        ids = list(await session.scalars(select(WebhookDelivery.id).where(first)
                                         .order_by(WebhookDelivery.id)))
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == ids[0])
                              .values(state="dead", attempts=5))
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == ids[1])
                              .values(attempts=2))  # pending, failed twice: failing
    listed = (await api.client.get("/webhooks", headers=api.auth("admin"))).json()
    assert [(s["id"], s["failing"], s["dead"]) for s in listed] == [
        (made[0]["id"], 1, 1), (made[1]["id"], 0, 0)]
    failing = (await api.client.get("/webhooks/deliveries", params={"failing": "true"},
                                    headers=api.auth("admin"))).json()
    assert [d["id"] for d in failing] == [ids[1]]
