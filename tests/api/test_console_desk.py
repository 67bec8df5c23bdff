"""The agent desktop's new parts in a real Chromium against the API on SQLite (no Asterisk):
the ring and hang-up are fed through the AMI listener's own event handler, as Asterisk would
send them. Wrap-up with a hotkey, the card's outcomes and hidden fields, my callbacks, the
today panel, the dial box's validation, and axe-core on all of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.dispositions.models import CallWrapup, Disposition, WrapupPolicy
from callcenter.recordings.models import Recording
from tests.api.conftest import write_wav
from tests.browser import new_page, serious_accessibility_violations, sign_in

ANNA = "Local/2001@cc-test-agent/n"
NUMBER = "+79161234567"


@pytest.fixture
async def desk(api):
    """Anna's call of a few minutes ago (its record written), the caller's card with a
    passport number agents may not see, support's list, and a callback of hers overdue."""
    now = datetime.now(UTC)
    async with api.service.sessions() as session:
        session.add(Contact(name="Иван Петров", vip=True, notes="prefers mornings",
                            fields={"passport": "4509 123456"},
                            numbers=[ContactNumber(number=NUMBER)]))
        session.add(Call(linkedid="live-1", direction="inbound", caller=NUMBER,
                         called="+74950000000", started_at=now - timedelta(minutes=3),
                         queue="support", answered_at=now - timedelta(minutes=3),
                         ended_at=now, agent="Anna", wait_seconds=3, talk_seconds=170,
                         outcome="answered", end_inferred=False))
        for position, (code, label, key) in enumerate(
                [("sale", "Продажа", 1), ("info", "Консультация", 2), ("complaint", "Жалоба", 3)]):
            session.add(Disposition(scope="queue", scope_key="support", code=code, label=label,
                                    hotkey=key, position=position))
        session.add(WrapupPolicy(scope="queue", scope_key="support", required=True, seconds=90))
        session.add(Callback(number="+79160000002", queue="support", source="wrapup",
                             requested_at=now - timedelta(days=1),
                             due_at=now - timedelta(hours=1), assignee="Anna", status="open"))
        await session.commit()


async def ring_and_hang_up(api, linkedid: str = "live-1") -> None:
    """What Asterisk sends when a queue call rings Anna, she answers, and it ends; once her
    page's socket is subscribed (it opens after the page has loaded)."""
    async with asyncio.timeout(10):
        while not api.service.pops.connected(ANNA):
            await asyncio.sleep(0.05)
    for event in (
        {"Event": "AgentCalled", "Queue": "support", "Interface": ANNA, "MemberName": "Anna",
         "Linkedid": linkedid, "Uniqueid": linkedid, "CallerIDNum": NUMBER},
        {"Event": "AgentConnect", "Queue": "support", "Interface": ANNA, "MemberName": "Anna",
         "Linkedid": linkedid, "Uniqueid": linkedid},
        {"Event": "AgentComplete", "Queue": "support", "Interface": ANNA, "MemberName": "Anna",
         "Linkedid": linkedid, "Uniqueid": linkedid, "Reason": "caller"},
    ):
        api.service.pops.on_event(event)


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_wrap_up_with_a_hotkey_lands_on_the_call_record(site, browser, api, desk, lang):
    page = await new_page(browser, site, lang, bypass_csp=True)
    await sign_in(page, "anna")
    await page.get_by_test_id("today").wait_for()
    await ring_and_hang_up(api)
    card = page.get_by_test_id("card")
    await card.get_by_test_id("caller-name").get_by_text("Иван Петров").wait_for(timeout=5000)
    assert "4509" not in await card.inner_text()  # the passport: hidden by the policy
    assert await card.get_by_test_id("contact-notes").count() == 0  # notes not shown to agents
    wrapup = page.get_by_test_id("wrapup")
    await wrapup.get_by_test_id("disposition").first.wait_for(timeout=5000)
    countdown = await wrapup.get_by_test_id("countdown").inner_text()
    assert ("01:2" in countdown) or ("01:3" in countdown)  # 90 s from the call's end
    # required: saving without a disposition is refused by the browser, nothing is sent
    await wrapup.get_by_test_id("save-wrapup").click()
    assert await page.get_by_test_id("wrapup").count() == 1
    await page.keyboard.press("3")
    await wrapup.locator("[data-testid=disposition][data-code=complaint].chosen").wait_for()
    # the note refuses a phone number (422 from the API, shown, nothing saved)
    await wrapup.get_by_test_id("wrapup-note").fill("his other phone is 8 916 000 11 22")
    await wrapup.get_by_test_id("save-wrapup").click()
    await wrapup.get_by_test_id("wrapup-error").get_by_text("note").wait_for()
    # typing digits in the note does not change the disposition
    await wrapup.get_by_test_id("wrapup-note").fill("Недоволен сроками доставки 2 раза")
    await wrapup.locator("[data-testid=disposition][data-code=complaint].chosen").wait_for()
    # a callback: mine, tomorrow
    await wrapup.get_by_test_id("schedule-callback").check()
    await wrapup.get_by_test_id("callback-when").wait_for()
    found = await serious_accessibility_violations(page)
    assert found == []
    await wrapup.get_by_test_id("save-wrapup").click()
    await page.get_by_test_id("wrapup").wait_for(state="detached", timeout=5000)
    async with api.service.sessions() as session:
        saved = await session.scalar(select(CallWrapup).where(CallWrapup.linkedid == "live-1"))
        callback = await session.get(Callback, saved.callback_id)
    assert (saved.agent, saved.disposition_code, saved.note) == (
        "Anna", "complaint", "Недоволен сроками доставки 2 раза")
    assert callback.assignee == "Anna" and callback.due_at > datetime.now(UTC)
    # my callbacks: the overdue one first, then the new one; the today panel counts the call
    callbacks = page.get_by_test_id("my-callbacks").get_by_test_id("callback")
    await callbacks.nth(1).wait_for(timeout=5000)
    assert await callbacks.first.locator(".badge.overdue").count() == 1
    assert "0002" in await callbacks.first.inner_text()
    calls_today = await page.get_by_test_id("today-calls").inner_text()
    assert calls_today == ("1 call" if lang == "en" else "1 звонок") or \
        datetime.now(UTC) - timedelta(minutes=3) < datetime.fromisoformat(
            (await page.evaluate("fetch('/agents/me/today').then(r => r.json())"))["since"])
    # the record, as the API shows it to her
    record = await page.evaluate("fetch('/calls?linkedid=live-1').then(r => r.json())")
    assert (record[0]["disposition"], record[0]["note"]) == (
        "complaint", "Недоволен сроками доставки 2 раза")
    # the dial box: the browser checks the number, then the server (no Asterisk: 409/503)
    await page.get_by_test_id("dial-number").fill("abc")
    await page.get_by_test_id("dial").click()
    assert await page.get_by_test_id("dial-message").count() == 0
    await page.get_by_test_id("dial-number").fill("+7 916 000-11-22")
    await page.get_by_test_id("dial").click()
    await page.get_by_test_id("dial-message").wait_for()


async def test_the_card_shows_the_last_calls_outcomes_and_edits_notes(site, browser, api, desk):
    r = await api.client.put("/admin/card-fields", headers=api.headers("admin"),
                             json={"fields": {}, "notes_agent_visible": True})
    assert r.status_code == 200
    async with api.service.sessions() as session:
        session.add(CallWrapup(linkedid="live-1", agent="Anna", disposition_code="sale",
                               saved_at=datetime.now(UTC)))
        path = write_wav(api.service.settings.recordings_dir / "live-1.wav")
        session.add(Recording(linkedid="live-1", path=str(path), format="wav",
                              size_bytes=path.stat().st_size, duration_seconds=2.0,
                              created_at=datetime.now(UTC)))
        contact = await session.scalar(select(Contact).where(Contact.name == "Иван Петров"))
        contact.numbers.append(ContactNumber(number="+74951112233", label="work"))
        await session.commit()
    page = await new_page(browser, site, bypass_csp=True)
    await sign_in(page, "anna", goto="/pop?number=89161234567")
    card = page.get_by_test_id("card")
    await card.get_by_test_id("caller-name").get_by_text("Иван Петров").wait_for()
    await card.get_by_test_id("repeat").wait_for()  # called 3 minutes ago
    assert await card.get_by_test_id("last-call-disposition").first.inner_text() == "sale"
    # her own call's recording plays in place, through a signed URL
    await card.get_by_test_id("play").click()
    audio = card.get_by_test_id("recording-audio")
    assert "/play?sig=" in await audio.get_attribute("src")
    await page.wait_for_function(
        "document.querySelector('[data-testid=recording-audio]').readyState >= 1")
    # the work number is masked for her, and still has its call button (no Asterisk: refused)
    assert "+74951112233" not in await card.inner_text()
    assert "2233" in await card.inner_text()
    await card.get_by_test_id("call-number").nth(1).click()
    await page.get_by_test_id("dial-message").wait_for()
    notes = card.get_by_test_id("contact-notes")
    assert await notes.input_value() == "prefers mornings"
    await notes.fill("prefers mornings, after 10:00")
    await card.get_by_role("button", name="Save notes").click()
    await card.get_by_text("Saved.").wait_for()
    async with api.service.sessions() as session:
        contact = await session.scalar(select(Contact).where(Contact.name == "Иван Петров"))
    assert contact.notes == "prefers mornings, after 10:00"
    assert "passport" not in await card.inner_text()
    assert await serious_accessibility_violations(page) == []
