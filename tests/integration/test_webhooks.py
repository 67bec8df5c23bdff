"""A queue call through the real Asterisk reaches a CRM's webhook receiver: ringing (with the
agent), answered, ended (the whole record), in order, each signed; the ledger's final record
follows as call.updated, never as a second call.ended."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.outbox.models import OutboxEvent, WebhookDelivery, WebhookSubscription
from callcenter.outbox.service import create_subscription
from tests.integration.helpers import login_agent, logout_everyone, place_inbound_call
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
async def receiver(service):
    receiver = Receiver("crm-secret-for-the-queue-call")
    await receiver.start()
    async with service.sessions() as session, session.begin():
        sub = await create_subscription(
            session, url=receiver.url, role="supervisor", secret=receiver.secret,
            events=["call.ringing", "call.answered", "call.ended", "call.updated",
                    "recording.ready"],
            allow_private=True, created_by="test", private_allowed_by_setting=False)
    yield receiver
    async with service.sessions() as session, session.begin():
        await session.delete(await session.get(WebhookSubscription, sub.id))
    await receiver.stop()


async def test_a_queue_call_reaches_the_crm_in_order_and_signed(service, receiver):
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    try:
        linkedid = await place_inbound_call(service, caller="+79161234567", name="Ivan",
                                            talk=2)

        def of_call(arrivals):
            return [a for a in arrivals if a.body["ordering_key"] == linkedid]

        def final(arrivals) -> bool:
            """The ledger's record (as a correction, or first) and the recording are in."""
            mine = of_call(arrivals)
            return any(x.body["type"] == "recording.ready" for x in mine) and any(
                x.body["type"] == "call.updated"
                or (x.body["type"] == "call.ended" and x.body["data"]["source"] == "ledger")
                for x in mine)

        try:
            arrived = of_call(await receiver.wait_for(final, 90))
        except TimeoutError:  # what was written and sent, for the failure's report
            async with service.sessions() as session:
                rows = (await session.execute(
                    select(OutboxEvent.type, WebhookDelivery.state, WebhookDelivery.attempts,
                           WebhookDelivery.last_error)
                    .outerjoin(WebhookDelivery, WebhookDelivery.outbox_id == OutboxEvent.id)
                    .where(OutboxEvent.ordering_key == linkedid))).all()
            pytest.fail(f"outbox of {linkedid}: {rows}; arrived: "
                        f"{[a.body['type'] for a in of_call(receiver.arrivals)]}; "
                        f"deliverer: {service.deliverer.health()}, "
                        f"{service.supervisor.report().get('webhooks')}")
    finally:
        await logout_everyone(service, "support", "sales")
    types = [a.body["type"] for a in arrived]
    assert types[:3] == ["call.ringing", "call.answered", "call.ended"], types
    assert types.count("call.ended") == 1
    # the live record first, corrected by the ledger's; or (the ledger was quicker than the
    # live writer) the ledger's first, and the live one only fills its blanks: no update
    if "call.updated" in types:
        assert types.count("call.updated") == 1
        assert types.index("call.updated") > types.index("call.ended")
        updated = next(a.body["data"] for a in arrived if a.body["type"] == "call.updated")
        assert updated["source"] == "ledger" and updated["previous_outcome"] == "answered"
    else:
        assert arrived[2].body["data"]["source"] == "ledger"
    # the recording, linked in the transaction that wrote the record
    assert types.index("call.ended") < types.index("recording.ready")
    recording = next(a.body["data"] for a in arrived if a.body["type"] == "recording.ready")
    assert recording["linkedid"] == linkedid and recording["size_bytes"] > 44
    assert [a.body["sequence"] for a in arrived] == sorted(a.body["sequence"] for a in arrived)
    assert all(a.signature_valid and a.header_id_matches for a in arrived)
    assert len({a.event_id for a in arrived}) == len(arrived)
    ringing, answered, ended = (a.body["data"] for a in arrived[:3])
    assert ringing["agent"] == "Anna" and ringing["queue"] == "support"
    assert ringing["caller"] == "+79161234567"
    assert answered["agent"] == "Anna" and answered["wait_seconds"] is not None
    assert ended["outcome"] == "answered" and ended["agent"] == "Anna"
    assert ended["caller"] == "+79161234567" and ended["talk_seconds"] >= 1
    assert ended["queue_entries"] and ended["legs"]
