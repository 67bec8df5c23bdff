"""The deliverer: outbox events to webhook subscribers, in order per ordering key, signed,
retried with exponential back-off for up to `webhook_retry_hours`, then dead-lettered.

A supervised task on the web side of the service (its own HTTP client, the web database
pool): telephony never waits for it. Each step is committed before the next, so a kill -9
loses nothing and repeats at most the deliveries in flight, whose event ids let receivers
drop them (at-least-once delivery, exactly once by id):
1. fan-out: new outbox events become `pending` deliveries of each subscription wanting their
   type, together with the subscription's cursor;
2. the head of each line (subscription, ordering key) that is due is sent; a line waits while
   its head is being retried, so a call's events arrive in order;
3. each outcome is committed at once: delivered, or the next attempt's time, or dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, bindparam, delete, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from callcenter.contacts.lookup import field_rules
from callcenter.db import upsert
from callcenter.outbox.emit import signal, woken
from callcenter.outbox.envelope import envelope
from callcenter.outbox.models import OutboxEvent, OutboxMark, WebhookDelivery, WebhookSubscription
from callcenter.outbox.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign
from callcenter.outbox.staged import release_or_log
from callcenter.outbox.targets import UnsafeTarget, check_target
from callcenter.settings import Settings

log = logging.getLogger(__name__)
USER_AGENT = "callcenter-webhooks/1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 10.0  # seconds before the second attempt
    cap: float = 3600.0  # longest wait between attempts
    window: float = 24 * 3600.0  # from the first attempt; then dead-lettered
    jitter: float = 0.2  # +-20 %: receivers coming back are not hit by everyone at once

    def delay(self, attempts: int, rand: float | None = None) -> float:
        """Seconds before the next attempt, after `attempts` failed ones (1, 2, ...)."""
        raw = min(self.base * 2 ** max(attempts - 1, 0), self.cap)
        spread = (random.random() if rand is None else rand) * 2 - 1  # -1..1
        return max(raw * (1 + self.jitter * spread), 0.0)

    def gives_up(self, first_attempt: datetime, next_attempt: datetime) -> bool:
        return (next_attempt - first_attempt).total_seconds() > self.window


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None = None
    error: str | None = None


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(base=settings.webhook_retry_base_seconds,
                       cap=settings.webhook_retry_max_seconds,
                       window=settings.webhook_retry_hours * 3600)


class Deliverer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.policy = retry_policy(settings)
        self.batch = 200
        self.poll_seconds = 2.0  # events emitted by other processes are found this late
        self.delivered = 0
        self.failed = 0
        self.dead = 0
        self._last_purge = 0.0

    def health(self) -> dict[str, object]:
        return {"delivered": self.delivered, "failed_attempts": self.failed,
                "dead_lettered": self.dead}

    async def run(self) -> None:
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        limits = httpx.Limits(max_connections=self.settings.webhook_concurrency * 2)
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False,
                                     headers={"User-Agent": USER_AGENT}) as client:
            with signal.listening() as flag:
                while True:
                    flag.clear()
                    await self._purge_if_due()  # hourly, busy or not
                    # an import's staged events its own release missed (a crash in between,
                    # another process): one indexed look when there are none
                    await release_or_log(self.sessions)
                    await self.fan_out()
                    if await self.deliver_due(client):
                        continue
                    await woken(flag, min(self.poll_seconds, await self._until_next_due()))

    async def fan_out(self) -> int:
        """New outbox events into deliveries, committed with each subscription's cursor."""
        made = 0
        async with self.sessions() as session, session.begin():
            subscriptions = list(await session.scalars(
                select(WebhookSubscription).where(WebhookSubscription.active.is_(True))))
            now = datetime.now(UTC)
            for sub in subscriptions:
                rows = list(await session.execute(
                    select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.ordering_key)
                    .where(OutboxEvent.id > sub.cursor).order_by(OutboxEvent.id)
                    .limit(self.batch * 5)))
                if not rows:
                    continue
                wanted = set(sub.events)
                deliveries = [{"subscription_id": sub.id, "outbox_id": r.id,
                               "ordering_key": r.ordering_key, "state": "pending",
                               "attempts": 0, "next_attempt_at": now, "created_at": now}
                              for r in rows if r.type in wanted]
                if deliveries:
                    await session.execute(
                        upsert(session.bind.dialect.name, WebhookDelivery.__table__)
                        .on_conflict_do_nothing(index_elements=["subscription_id",
                                                                "outbox_id"]), deliveries)
                sub.cursor = rows[-1].id
                made += len(deliveries)
        return made

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        """Sends the due head of every line, at most `webhook_concurrency` at once; returns
        how many were attempted."""
        now = datetime.now(UTC)
        earlier = aliased(WebhookDelivery)
        async with self.sessions() as session:
            heads = list(await session.execute(
                select(WebhookDelivery, OutboxEvent, WebhookSubscription)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.outbox_id)
                .join(WebhookSubscription,
                      WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.state == "pending",
                       WebhookDelivery.next_attempt_at <= now,
                       WebhookSubscription.active.is_(True),
                       ~exists().where(and_(
                           earlier.subscription_id == WebhookDelivery.subscription_id,
                           earlier.ordering_key == WebhookDelivery.ordering_key,
                           earlier.state == "pending", earlier.id < WebhookDelivery.id)))
                .order_by(WebhookDelivery.id).limit(self.batch)))
            rules = await field_rules(session) if any(
                e.type in ("contact.changed", "disposition.saved") for _, e, _ in heads) else {}
        if not heads:
            return 0
        gate = asyncio.Semaphore(self.settings.webhook_concurrency)
        answered: list[tuple[WebhookDelivery, Outcome]] = []
        flushed = asyncio.Event()

        async def one(delivery: WebhookDelivery, event: OutboxEvent,
                      sub: WebhookSubscription) -> None:
            async with gate:
                answered.append((delivery, await self.send(client, sub, event, rules)))

        async def commit_outcomes() -> None:
            # outcomes committed as they come, a few at a time (every 20 ms): a kill -9 can
            # only make the receiver see again what it answered in those last milliseconds
            while not flushed.is_set() or answered:
                if answered:
                    batch = answered[:]
                    del answered[:len(batch)]
                    await self._record(batch)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(flushed.wait(), 0.02)

        committer = asyncio.create_task(commit_outcomes())
        try:
            await asyncio.gather(*(one(d, e, s) for d, e, s in heads))
        finally:
            flushed.set()
            await committer
        return len(heads)

    async def send(self, client: httpx.AsyncClient, sub: WebhookSubscription,
                   event: OutboxEvent, rules: Mapping[str, Any]) -> Outcome:
        """One POST: signed, within the timeout, reading at most webhook_max_response_bytes
        of the answer (kept, shortened, as the error of a failure)."""
        body = json.dumps(envelope(event, sub.role, rules), ensure_ascii=False,
                          separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event.event_id,
                   EVENT_TYPE_HEADER: event.type, SIGNATURE_HEADER: sign(sub.secret, body)}
        try:
            await check_target(sub.url, allow_private=sub.allow_private
                               or self.settings.webhook_allow_private_targets)
            async with asyncio.timeout(self.settings.webhook_timeout_seconds * 2):
                async with client.stream("POST", sub.url, content=body,
                                         headers=headers) as response:
                    answer = bytearray()
                    async for chunk in response.aiter_raw():
                        answer += chunk
                        if len(answer) >= self.settings.webhook_max_response_bytes:
                            break  # bounded: the rest is never read
            if 200 <= response.status_code < 300:
                return Outcome(True, response.status_code)
            text = bytes(answer[:200]).decode("utf-8", "replace")
            return Outcome(False, response.status_code,
                           f"HTTP {response.status_code}: {text}".strip())
        except UnsafeTarget as exc:
            return Outcome(False, None, f"refused target: {exc}")
        except TimeoutError:
            return Outcome(False, None, "timed out")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])

    async def _record(self, outcomes: list[tuple[WebhookDelivery, Outcome]]) -> None:
        """Each delivery's outcome: delivered, its next attempt, or dead; in one transaction."""
        now = datetime.now(UTC)
        rows = []
        for delivery, outcome in outcomes:
            first = delivery.first_attempt_at or now
            attempts = delivery.attempts + 1
            row: dict[str, Any] = {
                "b_id": delivery.id, "b_attempts": delivery.attempts, "attempts": attempts,
                "last_attempt_at": now, "first_attempt_at": first,
                "last_status": outcome.status, "state": "pending", "delivered_at": None,
                "last_error": None, "next_attempt_at": delivery.next_attempt_at}
            if outcome.ok:
                row |= {"state": "delivered", "delivered_at": now}
                self.delivered += 1
            else:
                self.failed += 1
                next_at = now + timedelta(seconds=self.policy.delay(attempts))
                row |= {"last_error": (outcome.error or "")[:500], "next_attempt_at": next_at}
                if self.policy.gives_up(first, next_at):
                    row["state"] = "dead"
                    self.dead += 1
                    log.warning("webhook delivery dead-lettered",
                                extra={"delivery": delivery.id, "attempts": attempts,
                                       "error": row["last_error"][:200]})
            rows.append(row)
        table = WebhookDelivery.__table__
        statement = update(table).where(
            table.c.id == bindparam("b_id"), table.c.state == "pending",
            table.c.attempts == bindparam("b_attempts")).values(
            {name: bindparam(f"v_{name}") for name in rows[0] if not name.startswith("b_")})
        rows = [{(k if k.startswith("b_") else f"v_{k}"): v for k, v in row.items()}
                for row in rows]  # bound names may not be the columns' own
        async with self.sessions() as session, session.begin():
            if session.bind.dialect.name == "postgresql":
                # a kill -9 of this process cannot lose a commit PostgreSQL has acknowledged;
                # only PostgreSQL crashing could, and then the delivery is sent again (by id)
                await session.execute(text("SET LOCAL synchronous_commit = off"))
            connection = await session.connection()
            await connection.execute(statement, rows)

    async def _until_next_due(self) -> float:
        async with self.sessions() as session:
            due = await session.scalar(select(func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.state == "pending"))
        if due is None:
            return self.poll_seconds
        return max((due - datetime.now(UTC)).total_seconds(), 0.05)

    async def _purge_if_due(self, every: float = 3600) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_purge < every:
            return
        self._last_purge = loop.time()
        try:
            await purge(self.sessions, days=self.settings.outbox_retention_days)
        except Exception as exc:
            log.error("outbox retention run failed", extra={"error": repr(exc)[:300]})


async def purge(sessions: async_sessionmaker[AsyncSession], *, days: float) -> int:
    """Events older than the retention, and their finished deliveries; never an event still
    being retried. The last id deleted is kept: a stream cursor before it is told so (410)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with sessions() as session, session.begin():
        pending = await session.scalar(select(func.min(WebhookDelivery.outbox_id)).where(
            WebhookDelivery.state == "pending"))
        last = await session.scalar(select(func.max(OutboxEvent.id)).where(
            OutboxEvent.created_at < cutoff))
        if last is None:
            return 0
        if pending is not None:
            last = min(last, pending - 1)
        deleted = (await session.execute(delete(OutboxEvent).where(
            OutboxEvent.id <= last))).rowcount
        await session.execute(delete(WebhookDelivery).where(
            WebhookDelivery.outbox_id <= last, WebhookDelivery.state != "pending"))
        statement = upsert(session.bind.dialect.name, OutboxMark.__table__)
        await session.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": func.max(
                OutboxMark.__table__.c.value, statement.excluded.value)}
            if session.bind.dialect.name == "sqlite" else
            {"value": func.greatest(OutboxMark.__table__.c.value, statement.excluded.value)}),
            [{"name": "purged_through", "value": last}])
        return deleted or 0
