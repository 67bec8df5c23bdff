"""Nothing lost, nothing doubled by id: the CRM's receiver is down for 60 s and the service is
kill -9-ed once meanwhile; afterwards every event has arrived, by id, in order per call.

The service runs as its own process (`callcenter run`, to be killable) on its own PostgreSQL
database. Its calls come from Asterisk's ledger as recorded from the real Asterisk
(tests/traces/ledger: CEL and queue_log, the second half appended while the receiver is
down), its contact changes from its HTTP API, before and after the kill. No live Asterisk is
needed: the test does not take the Asterisk lock.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from sqlalchemy import func, select

from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.outbox.catalogue import EVENT_TYPES
from callcenter.outbox.models import OutboxEvent, WebhookDelivery
from callcenter.outbox.service import create_subscription
from callcenter.users.service import create_token, create_user
from tests.integration.test_faults import ServiceProcess
from tests.rig import free_port
from tests.webhook_receiver import Receiver

LEDGER = Path(__file__).parent / "traces" / "ledger"
DOWN_FOR = 60.0


class Service(ServiceProcess):
    async def start(self) -> None:  # no Asterisk here: ready once its database answers
        self.process = await asyncio.to_thread(self._spawn)
        await self.until(lambda body: body["database"] is True)


def append(path: Path, name: str) -> None:
    with path.open("a") as file:
        file.write((LEDGER / name).read_text())


async def test_receiver_down_60s_and_a_kill_9_lose_nothing(postgres, tmp_path):
    url = await asyncio.to_thread(postgres.create_database, f"hooks_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    receiver = Receiver("crm-shared-secret-0123456789")
    async with sessions() as session, session.begin():
        admin = await create_user(session, username="root", role="admin", password="x" * 12)
        token = await create_token(session, admin)
        await create_subscription(session, url=receiver.url, events=list(EVENT_TYPES),
                                  role="admin", secret=receiver.secret, allow_private=True,
                                  created_by="test", private_allowed_by_setting=False)
    cel, queue_log = tmp_path / "cel.jsonl", tmp_path / "queue_log"
    append(cel, "cel-1.jsonl")
    append(queue_log, "queue_log-1")
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {**os.environ, "CALLCENTER_DATABASE_URL": url,
           "CALLCENTER_HTTP_PORT": str(free_port()), "CALLCENTER_AGI_PORT": str(free_port()),
           "CALLCENTER_AMI_PORT": str(free_port()),  # no Asterisk: the ledger files say it all
           "CALLCENTER_RECORDINGS_DIR": str(tmp_path / "recordings"),
           "CALLCENTER_SPOOL_DIR": str(spool), "CALLCENTER_SECRET_KEY": "fault test",
           "CALLCENTER_CEL_PATH": str(cel), "CALLCENTER_QUEUE_LOG_PATH": str(queue_log),
           "CALLCENTER_LEDGER_FROM_START": "true", "CALLCENTER_LEDGER_SETTLE_SECONDS": "0.5",
           "CALLCENTER_WEBHOOK_RETRY_BASE_SECONDS": "1",
           "CALLCENTER_WEBHOOK_RETRY_MAX_SECONDS": "4"}
    service = Service(env)
    headers = {"Authorization": f"Bearer {token}"}

    async def outbox() -> list[OutboxEvent]:
        async with sessions() as session:
            return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))

    async def failed_attempts() -> int:
        async with sessions() as session:
            return await session.scalar(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.state == "pending", WebhookDelivery.attempts > 0))

    async def contacts(first: int, count: int) -> None:
        async with httpx.AsyncClient(base_url=service.http, headers=headers, timeout=10) as http:
            for n in range(first, first + count):
                created = await http.post("/contacts", json={
                    "name": f"Customer {n}", "numbers": [f"+7916000{n:04d}"]})
                assert created.status_code == 201, created.text
                changed = await http.patch(f"/contacts/{created.json()['id']}",
                                           json={"vip": True})
                assert changed.status_code == 200, changed.text

    async def until(predicate, timeout: float = 60) -> None:
        async with asyncio.timeout(timeout):
            while not await predicate():
                await asyncio.sleep(0.2)  # polling the service's database, not a guess

    await receiver.start()
    await service.start()
    try:
        # the first calls arrive while the receiver is up
        await receiver.wait_for(lambda a: any(x.body["type"] == "call.ended" for x in a), 60)
        await receiver.stop()
        down_at = asyncio.get_running_loop().time()
        before_kill = len(await outbox())
        append(cel, "cel-2.jsonl")  # more calls end while the receiver is down
        append(queue_log, "queue_log-2")
        await contacts(1, 3)

        async def more_calls_written() -> bool:
            return sum(e.type == "call.ended" for e in await outbox()) >= 8

        async def failing() -> bool:
            return await failed_attempts() > 0

        await until(more_calls_written)
        await until(failing)
        assert len(await outbox()) > before_kill
        service.kill()  # kill -9 with deliveries failing and waiting for their retry
        await service.start()
        await contacts(4, 3)
        left = DOWN_FOR - (asyncio.get_running_loop().time() - down_at)
        assert left > 5, "the receiver should still be down now"
        await asyncio.sleep(left)  # the scenario: the receiver is down for 60 s
        await receiver.start()

        events = await outbox()
        expected = {e.event_id for e in events}
        arrived = await receiver.wait_for(
            lambda a: {x.event_id for x in a} >= expected, 90)
    finally:
        await service.stop()
        await receiver.stop()
    events = await outbox()
    by_id = {e.event_id: e for e in events}
    ids = [a.event_id for a in arrived]
    assert set(ids) == set(by_id)  # every event, and nothing that is no event
    assert all(a.signature_valid and a.header_id_matches for a in arrived)
    duplicates = sum(n - 1 for n in Counter(ids).values())
    print(f"\n{len(by_id)} events, {len(ids)} deliveries, {duplicates} duplicates by id")
    # at least once: a duplicate can only be a delivery in flight at the kill (none here:
    # the receiver was down), so none is expected; receivers dedupe by id anyway
    assert duplicates == 0
    # in order per call (per ordering key): first arrivals in outbox order
    seen: dict[str, list[int]] = defaultdict(list)
    for event_id in dict.fromkeys(ids):
        seen[by_id[event_id].ordering_key].append(by_id[event_id].id)
    assert all(seq == sorted(seq) for seq in seen.values()), seen
    types = Counter(e.type for e in events)
    assert types["call.ended"] == 8 and types["contact.changed"] == 12
    assert types["callback.created"] >= 1
    async with sessions() as session:
        states = Counter(await session.scalars(select(WebhookDelivery.state)))
    assert states == {"delivered": len(by_id)}
    await engine.dispose()
