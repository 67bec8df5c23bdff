"""The supervisors' "Projects" page in a real Chromium against the API on SQLite: each
project's progress (total, done, pending, in retry, by result) and the chosen project's
funnel drawn by uPlot, in English and Russian; agents get a 403; axe-core finds nothing
serious."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.projects.models import Project, ProjectAttempt, ProjectEntry
from tests.api.test_console_reports import screenshot
from tests.browser import new_page, serious_accessibility_violations, sign_in

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def projects(api) -> dict[str, int]:
    """"Осень": 8 numbers; 5 dialled (busy twice to retry, no answer once to retry, answered
    twice: one sale, one refused), 2 never dialled, 1 on the do-not-call list. "Зима": empty,
    a draft."""
    # (state, attempts, last result, success, attempt results)
    rows = [("done", 1, "answered", True, ["answered"]),
            ("done", 2, "answered", False, ["busy", "answered"]),
            ("queued", 1, "busy", False, ["busy"]),
            ("queued", 2, "busy", False, ["no_answer", "busy"]),
            ("queued", 1, "no_answer", False, ["no_answer"]),
            ("queued", 0, None, False, []), ("queued", 0, None, False, []),
            ("dnc", 0, None, False, [])]
    async with api.service.sessions() as session:
        autumn = Project(name="Осень", status="running", mode="progressive")
        winter = Project(name="Зима", status="draft", priority=-1)
        session.add_all([autumn, winter])
        await session.flush()
        for n, (state, attempts, last, success, results) in enumerate(rows):
            entry = ProjectEntry(project_id=autumn.id, name=f"Клиент {n}",
                                 phone=f"+7495123450{n}", state=state, attempts=attempts,
                                 last_result=last, success=success, next_at=T0)
            session.add(entry)
            await session.flush()
            for i, result in enumerate(results, 1):
                session.add(ProjectAttempt(
                    project_id=autumn.id, entry_id=entry.id, attempt=i,
                    linkedid=f"dl-{n}-{i}", agent="Anna", mode="progressive",
                    started_at=T0 + timedelta(minutes=10 * i), result=result))
        await session.commit()
        return {"autumn": autumn.id, "winter": winter.id}


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_the_projects_page_shows_progress_and_charts_the_funnel(site, browser, projects,
                                                                       lang):
    page = await new_page(browser, site, lang=lang)
    await sign_in(page, "sue", goto="/supervisor")
    await page.get_by_test_id("nav-project-progress").click()  # the shared navigation
    await page.wait_for_url(f"{site}/project-progress")
    autumn = page.locator(f"[data-testid=project-row][data-project='{projects['autumn']}']")
    await autumn.wait_for()
    cells = await autumn.locator("td").all_inner_texts()
    status, by_result = {"en": ("Running", "not dialled 3, answered 2, busy 2, no answer 1"),
                         "ru": ("Идёт", "не набран 3, ответили 2, занято 2, нет ответа 1")}[lang]
    # name, status, total, done, pending (never dialled), in retry, successful, by result
    assert cells == ["Осень", status, "8", "2", "2", "3", "1", by_result]
    winter = page.locator(f"[data-testid=project-row][data-project='{projects['winter']}']")
    assert (await winter.locator("td").all_inner_texts())[2:7] == ["0"] * 5
    # the first project's funnel: 5 numbers dialled, 2 reached, 1 positive; drawn by uPlot
    chart = page.get_by_test_id("chart-funnel")
    await chart.locator("canvas").first.wait_for()
    await page.locator("[data-testid=chart-funnel] [data-ready='1']").wait_for()
    table = page.get_by_test_id("funnel-table")
    assert [await table.locator(f"tr[data-step={s}] td").nth(1).inner_text()
            for s in ("dialled", "answered", "positive")] == ["5", "2", "1"]
    assert await table.locator("tr[data-step=answered] td").nth(2).inner_text() == "40.0%"
    label = {"en": "Dialled 5, Answered 2, Positive result 1",
             "ru": "Набрано 5, Дозвонились 2, Положительный результат 1"}[lang]
    assert label in await chart.locator("[role=img]").get_attribute("aria-label")
    await screenshot(page, f"projects-{lang}")
    # another project: its funnel instead
    await winter.get_by_role("button").click()
    await page.get_by_text({"en": "Funnel: Зима", "ru": "Воронка: Зима"}[lang]).wait_for()
    await page.locator("[data-testid=funnel-table] tr[data-step=dialled] td").nth(1) \
        .get_by_text("0", exact=True).wait_for()

    checked = await new_page(browser, site, lang=lang, bypass_csp=True)  # for axe-core
    await sign_in(checked, "sue", goto="/project-progress")
    await checked.locator("[data-testid=chart-funnel] [data-ready='1']").wait_for()
    assert await serious_accessibility_violations(checked) == []


async def test_agents_get_no_projects_page(site, browser, projects):
    page = await new_page(browser, site, lang="en")
    await sign_in(page, "anna")
    assert (await page.goto("/project-progress")).status == 403
    assert await page.get_by_test_id("nav-project-progress").count() == 0
