"""The supervisor console and the TV wallboard in a real Chromium against the API on SQLite
(no Asterisk; live events fed through the AMI listener's own handler): an abandoned call one
click from a callback, an admin's thresholds turning a tile red (colour, icon and text), the
agent grid's filter, TV mode with a display token and its stale banner once the feed stops."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from callcenter.api.app import create_app
from callcenter.callbacks.models import Callback
from tests.api.test_supervisor import seed_day
from tests.browser import new_page, serious_accessibility_violations, sign_in
from tests.rig import serving


@pytest.fixture
async def site(api):
    """Today's figures are read by the service's own task, as in production."""
    today = asyncio.create_task(api.service.today.run())
    async with serving(create_app(service=api.service)) as address:
        yield f"http://{address}"
    today.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await today


def members_and_a_caller(api) -> None:
    now = time.time()
    for event in (
        {"Event": "QueueMemberAdded", "Queue": "support", "Interface": "Local/2001@cc-test-agent/n",
         "MemberName": "Anna", "Paused": "0", "Timestamp": f"{now - 30}"},
        {"Event": "QueueMemberAdded", "Queue": "sales", "Interface": "Local/2002@cc-test-agent/n",
         "MemberName": "Boris", "Paused": "1", "PausedReason": "lunch",
         "Timestamp": f"{now - 90}"},
        {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "c1.1", "Linkedid": "c1.1",
         "CallerIDNum": "+79161234567", "CallerIDName": "Иван", "Timestamp": f"{now - 5}"},
    ):
        api.service.ami.on_event(event)


async def test_an_abandoned_call_is_called_back_from_the_console(site, browser, api):
    await seed_day(api)
    api.service.today.poke()  # as the end of a call does
    page = await new_page(browser, site)
    await sign_in(page, "sue", goto="/supervisor")
    rows = page.get_by_test_id("abandoned-call")
    first = page.locator("[data-testid=abandoned-call][data-linkedid=ab-1]")
    second = page.locator("[data-testid=abandoned-call][data-linkedid=ab-2]")
    await second.wait_for(timeout=10000)
    assert await rows.count() == 2
    # the first caller got through by themselves later: nothing left to do
    assert "Recovered" in await first.get_by_test_id("callback-status").inner_text()
    assert await first.get_by_test_id("call-back").count() == 0
    assert "No callback" in await second.get_by_test_id("callback-status").inner_text()
    await second.get_by_test_id("call-back").click()
    await page.get_by_test_id("action-note").get_by_text(
        "Callback for +79160000002 opened.").wait_for()
    await second.get_by_test_id("callback-status").get_by_text("Callback open").wait_for(
        timeout=5000)
    async with api.service.sessions() as session:
        assert await session.scalar(
            Callback.__table__.select().with_only_columns(Callback.linkedid)
            .where(Callback.number == "+79160000002", Callback.status == "open")) == "ab-2"
    # the tile's figures come from the same records
    tile = page.locator("[data-testid=tile][data-queue=support]")
    members_and_a_caller(api)
    await tile.get_by_test_id("abandoned").get_by_text("1 (25%)").wait_for(timeout=5000)
    assert await tile.get_by_test_id("service-level").inner_text() == "25% / target 80% in 20 s"
    assert await tile.get_by_test_id("asa").inner_text() == "00:17"


async def test_an_admins_thresholds_turn_a_tile_red_with_icon_and_text(site, browser, api):
    members_and_a_caller(api)
    page = await new_page(browser, site)
    await sign_in(page, "root", goto="/supervisor")
    tile = page.locator("[data-testid=tile][data-queue=support]")
    await tile.get_by_test_id("waiting").get_by_text("1 caller waiting").wait_for()
    assert await tile.get_attribute("data-grade") == "green"
    form = page.get_by_test_id("targets-form")
    await form.locator("summary").click()
    await form.get_by_test_id("targets-queue").select_option("support")
    await form.locator("input[name=waiting_amber]").fill("1")
    await form.locator("input[name=waiting_red]").fill("1")
    await form.locator("button[type=submit]").click()
    await page.get_by_test_id("action-note").get_by_text("Targets of support saved.").wait_for()
    await page.locator("[data-testid=tile][data-queue=support][data-grade=red]").wait_for(
        timeout=5000)
    assert "■ Alarm" in await tile.inner_text()
    # a wrong pair is refused with the API's reason, the tile stays as it was
    await form.locator("input[name=waiting_amber]").fill("5")
    await form.locator("button[type=submit]").click()
    await page.get_by_test_id("action-note").get_by_text("waiting_amber must not exceed").wait_for()
    # supervisors see the colours, but get no form
    other = await new_page(browser, site)
    await sign_in(other, "sue", goto="/supervisor")
    await other.locator("[data-testid=tile][data-queue=support][data-grade=red]").wait_for()
    assert await other.get_by_test_id("targets-form").count() == 0


async def test_the_agent_grid_sorts_and_filters_and_shows_pause_reasons(site, browser, api):
    members_and_a_caller(api)
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "sue", goto="/supervisor")
    grid = page.get_by_test_id("agent-grid")
    await grid.locator("[data-agent=Boris]").wait_for()
    boris = grid.locator("[data-agent=Boris]")
    assert "Пауза: lunch" in await boris.get_by_test_id("agent-state").inner_text()
    assert "01:30" <= await boris.get_by_test_id("agent-time").inner_text() <= "01:33"
    names = grid.locator("[data-testid=agent-row] td:first-child")
    assert await names.all_inner_texts() == ["Anna", "Boris"]
    await grid.get_by_role("button", name="Оператор").click()  # sort descending
    assert await names.all_inner_texts() == ["Boris", "Anna"]
    await page.get_by_test_id("state-filter").select_option("paused")
    assert await names.all_inner_texts() == ["Boris"]
    await page.get_by_test_id("state-filter").select_option("")
    await page.get_by_test_id("agent-filter").fill("ann")
    assert await names.all_inner_texts() == ["Anna"]
    # without Asterisk, an action says why it failed
    await grid.locator("[data-agent=Anna]").get_by_test_id("pause-agent").click()
    await page.get_by_test_id("action-note").get_by_text("not connected").wait_for()


async def test_tv_mode_with_a_display_token_and_its_stale_banner(site, browser, api):
    members_and_a_caller(api)
    created = await api.client.post("/admin/displays", json={"name": "Hall"},
                                    headers=api.headers("admin"))
    token, display = created.json()["token"], created.json()["id"]
    page = await new_page(browser, site, lang="ru")
    await page.goto(f"/wallboard#token={token}")  # no sign-in: the display's own token
    tile = page.locator("[data-testid=tile][data-queue=support]")
    await tile.get_by_test_id("waiting").get_by_text("1 абонент ждёт").wait_for()
    assert page.url.endswith(f"/wallboard#token={token}")
    lost = page.get_by_test_id("stale").get_by_text("Связь потеряна")
    assert await lost.count() == 0  # (the other banner says there is no Asterisk here)
    assert "+79161234567" not in await page.content()
    # the token revoked: the feed stops and the screen says so
    await api.client.delete(f"/admin/displays/{display}", headers=api.headers("admin"))
    await lost.wait_for(timeout=5000)
    # without a token nor a session, the page sends to sign in
    other = await new_page(browser, site)
    await other.goto("/wallboard")
    await other.wait_for_url("**/signin**")


async def test_no_serious_accessibility_violations_on_the_supervisor_pages(site, browser, api):
    await seed_day(api)
    api.service.today.poke()
    members_and_a_caller(api)
    found = {}
    for lang in ("en", "ru"):
        page = await new_page(browser, site, lang, bypass_csp=True)
        await sign_in(page, "root", goto="/supervisor")
        await page.get_by_test_id("abandoned-call").first.wait_for(timeout=10000)
        await page.get_by_test_id("targets-form").locator("summary").click()
        found[f"supervisor {lang}"] = await serious_accessibility_violations(page)
        await page.goto("/wallboard")
        await page.get_by_test_id("tile").first.wait_for()
        found[f"wallboard {lang}"] = await serious_accessibility_violations(page)
    assert found == {name: [] for name in found}
