"""The desktop's script panel and preview dialling panel in a real Chromium against the API
on SQLite (no Asterisk): a queue call rings (events fed through the screen-pop hub, as
Asterisk sends them), the agent walks the queue's script; then takes a preview card and skips
it with a reason. axe-core finds nothing serious."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter.contacts.models import Contact, ContactNumber
from callcenter.projects.models import Project, ProjectAgent, ProjectEntry
from callcenter.scripts import service as scripts
from callcenter.scripts.models import ScriptAnswer, ScriptRun
from tests.browser import new_page, serious_accessibility_violations, sign_in

ANNA = "Local/2001@cc-test-agent/n"
NUMBER = "+79161234567"


@pytest.fixture
async def outbound(api):
    async with api.service.sessions() as session:
        session.add(Contact(name="Иван Петров", fields={"passport": "4509 123456"},
                            numbers=[ContactNumber(number=NUMBER)]))
        version = await scripts.create(session, "Входящий", [
            {"id": "hello", "text": "Здравствуйте! Паспорт: {passport}", "next": "ask"},
            {"id": "ask", "text": "Чем помочь?", "choices": [
                {"value": "order", "label": "Заказ", "next": "bye"},
                {"value": "other", "label": "Другое", "next": "bye"}]},
            {"id": "bye", "text": "Всего доброго!"}], "sue")
        await scripts.assign_queue(session, "support", version.script_id)
        # open all day: due now whatever the hour
        project = Project(name="Осень", mode="preview", status="running", hours_start=0,
                          hours_end=24 * 60)
        session.add(project)
        await session.flush()
        session.add(ProjectAgent(project_id=project.id, agent="Anna"))
        for i, name in enumerate(["Мария", "Олег"]):
            session.add(ProjectEntry(project_id=project.id, name=name,
                                     phone=f"+7495123450{i}", timezones="UTC", state="queued",
                                     next_at=datetime.now(UTC)))
        await session.commit()
        return project.id


async def ring(api, linkedid: str = "live-9") -> None:
    async with asyncio.timeout(10):
        while not api.service.pops.connected(ANNA):
            await asyncio.sleep(0.05)
    for event in (
        {"Event": "AgentCalled", "Queue": "support", "Interface": ANNA, "MemberName": "Anna",
         "Linkedid": linkedid, "Uniqueid": linkedid, "CallerIDNum": NUMBER},
        {"Event": "AgentConnect", "Queue": "support", "Interface": ANNA, "MemberName": "Anna",
         "Linkedid": linkedid, "Uniqueid": linkedid},
    ):
        api.service.pops.on_event(event)


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_script_walked_and_preview_card_skipped_from_the_desktop(site, browser, api,
                                                                      outbound, lang):
    page = await new_page(browser, site, lang, bypass_csp=True)
    await sign_in(page, "anna")
    await page.get_by_test_id("preview").wait_for(timeout=5000)
    await ring(api)
    step = page.get_by_test_id("script-step")
    await step.get_by_text("Здравствуйте! Паспорт: …").wait_for(timeout=5000)  # policy: hidden
    await step.get_by_role("button").click()
    await page.locator("[data-testid=script-step][data-step=ask]").wait_for()
    assert await serious_accessibility_violations(page) == []
    await page.get_by_role("button", name="Заказ").click()
    await page.locator("[data-testid=script-step][data-step=bye]").wait_for()
    async with api.service.sessions() as session:
        run = await session.scalar(select(ScriptRun).where(ScriptRun.linkedid == "live-9"))
        answers = list(await session.scalars(select(ScriptAnswer.answer)
                                             .where(ScriptAnswer.run_id == run.id)
                                             .order_by(ScriptAnswer.id)))
    assert (run.version, answers) == (1, ["ok", "order"])

    preview = page.get_by_test_id("preview")
    await preview.get_by_role("button").first.click()
    card = page.get_by_test_id("preview-card")
    await card.get_by_text("Мария").wait_for(timeout=5000)
    assert "4500" in await card.inner_text() and "+7495" not in await card.inner_text()
    assert await serious_accessibility_violations(page) == []
    await card.locator("input").fill("не тот человек")
    await page.get_by_test_id("preview-skip").click()
    await card.get_by_text("Олег").wait_for(timeout=5000)
    async with api.service.sessions() as session:
        skipped = await session.scalar(select(ProjectEntry).where(ProjectEntry.name == "Мария"))
    assert (skipped.state, skipped.skip_reason) == ("skipped", "не тот человек")
