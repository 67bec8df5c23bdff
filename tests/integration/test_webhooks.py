"""A queue call through the real Asterisk reaches a CRM's webhook receiver: ringing (with the
agent), answered, ended (the whole record), in order, each signed; the ledger's final record
follows as call.updated, never as a second call.ended."""

from __future__ import annotations

import pytest

from callcenter.outbox.models import WebhookSubscription
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

        arrived = of_call(await receiver.wait_for(
            lambda a: {"call.ended", "call.updated"} <= {x.body["type"] for x in of_call(a)},
            90))
    finally:
        await logout_everyone(service, "support", "sales")
    types = [a.body["type"] for a in arrived]
    assert types[:3] == ["call.ringing", "call.answered", "call.ended"], types
    assert types.count("call.ended") == 1
    assert types.index("call.updated") > types.index("call.ended")
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
    updated = next(a.body["data"] for a in arrived if a.body["type"] == "call.updated")
    assert updated["source"] == "ledger" and updated["previous_outcome"] == "answered"
