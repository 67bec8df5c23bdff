"""The admins' Webhooks page in a real Chromium against the API on SQLite, with a real local
HTTP receiver: subscribing (a private target refused with the API's reason, then allowed),
the secret shown once, a dead letter seen and redelivered with one click until the receiver
has it; in English and Russian; supervisors and agents get 403; axe-core finds nothing
serious."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from callcenter.outbox.deliver import Deliverer
from callcenter.outbox.emit import Event, emit_many
from callcenter.outbox.models import WebhookDelivery, WebhookSubscription
from callcenter.outbox.service import create_subscription
from tests.api.test_console_reports import screenshot
from tests.browser import new_page, serious_accessibility_violations, sign_in
from tests.webhook_receiver import Receiver

SECRET = "receiver-secret-0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver(SECRET)
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def deliverer(api) -> AsyncIterator[Deliverer]:
    """The real deliverer, with a retry window short enough that a failing receiver's
    delivery becomes a dead letter within the test."""
    api.service.settings.webhook_retry_base_seconds = 0.1
    api.service.settings.webhook_retry_hours = 0.6 / 3600
    deliverer = Deliverer(api.service.sessions, api.service.settings)
    task = asyncio.create_task(deliverer.run())
    yield deliverer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def subscriptions(api) -> list[WebhookSubscription]:
    async with api.service.sessions() as session:
        return list(await session.scalars(select(WebhookSubscription)))


async def delivery_state(api, delivery_id: int) -> str:
    async with api.service.sessions() as session:
        return (await session.get(WebhookDelivery, delivery_id)).state


async def a_dead_letter(api, receiver: Receiver) -> int:
    """Through the service layer: a subscription to the receiver, which answers 500 until
    the deliverer gives the event up."""
    async with api.service.sessions() as session, session.begin():
        await create_subscription(session, url=receiver.url, events=["call.ended"],
                                  role="supervisor", created_by="root", secret=SECRET,
                                  allow_private=True, private_allowed_by_setting=False,
                                  description="CRM test")
    receiver.status = 500
    async with api.service.sessions() as session, session.begin():
        await emit_many(session, [Event("call.ended", {"linkedid": "dl-1"}, "dl-1")])
    async with asyncio.timeout(20):
        while True:
            async with api.service.sessions() as session:
                dead = await session.scalar(select(WebhookDelivery.id).where(
                    WebhookDelivery.state == "dead"))
            if dead is not None:
                return dead
            await asyncio.sleep(0.1)  # the deliverer commits elsewhere: nothing to await


async def test_the_admin_subscribes_a_local_receiver_after_the_refusal(
        site, browser, api, receiver):
    page = await new_page(browser, site, bypass_csp=True)
    await sign_in(page, "root", goto="/administration/webhooks")
    await page.get_by_role("link", name="Webhooks").wait_for()
    assert await page.get_by_role("heading", name="0 subscriptions").is_visible()
    create = page.get_by_role("button", name="Create")
    assert await create.is_disabled()  # no event chosen yet, and the page says so
    assert await page.get_by_test_id("choose-events").is_visible()
    # by keyboard: type the URL, tick an event with Space, submit with Enter
    await page.get_by_label("Receiver URL").fill(receiver.url)
    await page.get_by_label("call.ended").focus()
    await page.keyboard.press("Space")
    await page.get_by_label("Sees data as").select_option("agent")
    await create.focus()
    await page.keyboard.press("Enter")
    refused = page.get_by_role("alert")
    await refused.wait_for()
    text = await refused.inner_text()
    assert "url" in text and "127.0.0.1 is a loopback address" in text
    assert "allow_private" in text
    assert await subscriptions(api) == []
    # allowed explicitly, as the API lets an admin do
    await page.get_by_label("Allow a private address").check()
    await create.click()
    await page.get_by_role("status").filter(
        has_text=f"Subscription to {receiver.url} created.").wait_for()
    [sub] = await subscriptions(api)
    assert (sub.url, sub.events, sub.role, sub.allow_private, sub.active) == (
        receiver.url, ["call.ended"], "agent", True, True)
    shown = await page.get_by_test_id("secret").locator(".secret").inner_text()
    assert shown == sub.secret and len(shown) >= 32  # generated, shown once
    row = page.locator(f"[data-testid=webhook][data-url='{receiver.url}']")
    assert "call.ended" in await row.inner_text()
    assert "0 dead letters" in await row.inner_text()
    await screenshot(page, "webhooks-created")
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("button", name="Done").click()
    assert await page.get_by_test_id("secret").count() == 0
    # pause, then resume
    await row.get_by_role("button", name="Pause").click()
    await row.get_by_text("⏸ paused").wait_for()
    assert not (await subscriptions(api))[0].active
    await row.get_by_role("button", name="Resume").click()
    await row.get_by_text("active").wait_for()
    assert (await subscriptions(api))[0].active
    # delete asks first
    await row.get_by_role("button", name="Delete").click()
    # the focus moves to the confirmation's "Cancel": Enter there cancels
    assert await page.evaluate("document.activeElement.textContent") == "Cancel"
    await page.keyboard.press("Enter")
    await row.get_by_role("button", name="Delete").wait_for()
    assert len(await subscriptions(api)) == 1
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("group").get_by_role("button", name="Delete").click()
    await page.get_by_role("heading", name="0 subscriptions").wait_for()
    assert await subscriptions(api) == []


async def test_the_admin_sees_a_dead_letter_and_redelivers_it_in_russian(
        site, browser, api, receiver, deliverer):
    dead = await a_dead_letter(api, receiver)
    page = await new_page(browser, site, lang="ru", bypass_csp=True)
    await sign_in(page, "root", goto="/administration/webhooks")
    await page.get_by_role("heading", name="1 подписка").wait_for()
    row = page.locator(f"[data-testid=webhook][data-url='{receiver.url}']")
    await row.get_by_test_id("dead").get_by_text("✖ 1 недоставленная").wait_for()
    assert "0 с ошибками" in await row.get_by_test_id("failing").inner_text()
    await row.get_by_test_id("dead").click()  # the deliveries, filtered to its dead letters
    assert await page.get_by_label("Состояние").input_value() == "dead"
    await page.get_by_test_id("deliveries-found").get_by_text(
        "1 доставка, сначала новые").wait_for()
    letter = page.locator(f"[data-testid=delivery][data-id='{dead}']")
    assert await letter.get_attribute("data-state") == "dead"
    text = await letter.inner_text()
    assert "✖ не доставлено" in text and "HTTP 500" in text and "call.ended" in text
    await screenshot(page, "webhooks-dead-letter-ru")
    assert await serious_accessibility_violations(page) == []

    receiver.status = 200
    await letter.get_by_role("button", name=f"Отправить снова доставку №{dead}").click()
    await page.get_by_role("status").filter(
        has_text=f"Доставка №{dead} снова в очереди.").wait_for()
    assert await delivery_state(api, dead) in ("pending", "delivered")
    arrived = await receiver.wait_for(lambda a: len(a) >= 1, 20)
    assert [a.body["data"]["linkedid"] for a in arrived] == ["dl-1"]
    assert all(a.signature_valid for a in arrived)
    async with asyncio.timeout(10):
        while await delivery_state(api, dead) != "delivered":
            await asyncio.sleep(0.05)  # its commit follows the receiver's answer
    # the filter shows what is now delivered, by text and icon
    await page.get_by_label("Состояние").select_option("delivered")
    await page.locator(f"[data-testid=delivery][data-id='{dead}'][data-state=delivered]"
                       ).get_by_text("✔ доставлено").wait_for()
    await page.get_by_label("Состояние").select_option("dead")
    await page.get_by_test_id("deliveries-found").get_by_text(
        "0 доставок, сначала новые").wait_for()


@pytest.mark.parametrize("who", ["sue", "anna"])
async def test_supervisors_and_agents_cannot_reach_the_webhooks_page(site, browser, who):
    page = await new_page(browser, site)
    await sign_in(page, who, goto="/desktop" if who == "anna" else "/supervisor")
    assert (await page.goto("/administration/webhooks")).status == 403
    statuses = await page.evaluate("""() => Promise.all(['/webhooks', '/webhooks/deliveries',
        '/webhooks/catalogue'].map(p => fetch(p).then(r => r.status)))""")
    assert statuses == [403] * 3
