"""The admins' dispositions page in a real Chromium against the API on SQLite: a queue's list
built, refused (a hotkey taken twice), edited and pruned, its wrap-up policy set; each change
checked in the database; in English and Russian; 403 for agents and supervisors; axe-core's
serious findings (none)."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.dispositions.models import Disposition, WrapupPolicy
from tests.browser import new_page, serious_accessibility_violations, sign_in


async def kept(api, key: str = "support") -> dict[str, Disposition]:
    async with api.service.sessions() as session:
        rows = await session.scalars(select(Disposition).where(
            Disposition.scope == "queue", Disposition.scope_key == key))
        return {d.code: d for d in rows}


async def policy_of(api, key: str = "support") -> WrapupPolicy | None:
    async with api.service.sessions() as session:
        return await session.get(WrapupPolicy, ("queue", key))


async def add(page, code: str, label: str, hotkey: str, *, success: bool = False) -> None:
    form = page.get_by_test_id("new-disposition")
    await form.get_by_label("Code").fill(code)
    await form.get_by_label("Label").fill(label)
    await form.get_by_label("Hotkey").fill(hotkey)
    if success:
        await form.get_by_label("Success").check()
    await form.get_by_role("button", name="Add").click()


async def test_the_admin_builds_a_queues_list_and_its_wrapup_policy(site, browser, api):
    page = await new_page(browser, site)
    await sign_in(page, "root", goto="/administration/dispositions")
    await page.get_by_role("link", name="Dispositions").wait_for()  # in the admin navigation
    scope = page.get_by_test_id("disp-scope")
    await scope.get_by_label("Queue (* for the default list)").fill("support")
    await scope.get_by_label("Queue (* for the default list)").press("Enter")  # keyboard
    await page.get_by_test_id("disp-list").get_by_text("Queue support: 0 dispositions").wait_for()
    await page.get_by_test_id("disp-policy-source").get_by_text("No policy of its own").wait_for()

    await add(page, "sold", "Sale made", "1", success=True)
    await page.get_by_test_id("note").get_by_text("Disposition sold added.").wait_for()
    await add(page, "no_interest", "Not interested", "2")
    await page.get_by_test_id("note").get_by_text("Disposition no_interest added.").wait_for()
    await page.get_by_test_id("disp-list").get_by_text("2 dispositions").wait_for()
    rows = await page.locator("[data-testid=disposition]").evaluate_all(
        "rows => rows.map(r => r.dataset.code)")
    assert rows == ["sold", "no_interest"]  # in the list's order
    saved = await kept(api)
    assert (saved["sold"].label, saved["sold"].hotkey, saved["sold"].is_success) == (
        "Sale made", 1, True)
    assert (saved["no_interest"].hotkey, saved["no_interest"].is_success) == (2, False)
    assert saved["sold"].position < saved["no_interest"].position

    # a third one with hotkey 1: the API's 409 is shown, nothing is added
    await add(page, "callback", "Call back later", "1")
    alert = page.get_by_role("alert")
    await alert.get_by_text("409").wait_for()
    assert "hotkey 1 is already 'sold'" in await alert.inner_text()
    assert set(await kept(api)) == {"sold", "no_interest"}

    # edit: new label and hotkey, closes the number, retry; by keyboard from the Edit button
    row = page.locator("[data-testid=disposition][data-code=no_interest]")
    await row.get_by_role("button", name="Edit no_interest").focus()
    await page.keyboard.press("Enter")
    label = row.get_by_label("Label: no_interest")
    assert await label.evaluate("e => e === document.activeElement")  # focus moves in
    await label.fill("No interest at all")
    await row.get_by_label("Hotkey: no_interest").fill("3")
    await row.get_by_label("Closes the number: no_interest").check()
    await row.get_by_label("Retry after, minutes: no_interest").fill("")
    await row.get_by_label("Hotkey: no_interest").press("Enter")
    await page.get_by_test_id("note").get_by_text("Disposition no_interest saved.").wait_for()
    await row.get_by_text("No interest at all").wait_for()
    edited = (await kept(api))["no_interest"]
    assert (edited.label, edited.hotkey, edited.closes_number, edited.active) == (
        "No interest at all", 3, True, True)

    # the policy: required, 30 s
    policy = page.get_by_test_id("disp-policy")
    await policy.get_by_label("A disposition is required").check()
    await policy.get_by_label("Wrap-up time, seconds (0: none)").fill("30")
    await policy.get_by_role("button", name="Save wrap-up policy").click()
    await page.get_by_test_id("note").get_by_text(
        "Wrap-up policy saved: required yes, 30 s.").wait_for()
    stored = await policy_of(api)
    assert stored is not None and (stored.required, stored.seconds) == (True, 30)
    # what the agents' desktop reads for that queue now
    listed = (await api.get("/dispositions?key=support", "admin")).json()
    assert [d["code"] for d in listed["dispositions"]] == ["sold", "no_interest"]
    assert listed["policy"]["required"] is True and listed["policy"]["seconds"] == 30

    # reorder: no_interest moves up, and the desktop's list follows
    await page.get_by_role("button", name="Move no_interest up").click()
    await page.get_by_test_id("note").get_by_text("no_interest is now number 1").wait_for()
    rows = await page.locator("[data-testid=disposition]").evaluate_all(
        "rows => rows.map(r => r.dataset.code)")
    assert rows == ["no_interest", "sold"]
    listed = (await api.get("/dispositions?key=support", "admin")).json()
    assert [d["code"] for d in listed["dispositions"]] == ["no_interest", "sold"]
    assert await page.get_by_role("button", name="Move no_interest down").evaluate(
        "e => e === document.activeElement")  # the focus stays with the row moved

    # delete, with a confirmation whose Cancel takes the focus
    row = page.locator("[data-testid=disposition][data-code=sold]")
    await row.get_by_role("button", name="Delete sold").click()
    assert await row.get_by_role("button", name="Cancel").evaluate(
        "e => e === document.activeElement")
    await row.get_by_role("button", name="Delete", exact=True).click()
    await page.get_by_test_id("note").get_by_text("Disposition sold deleted.").wait_for()
    await page.get_by_test_id("disp-list").get_by_text("1 disposition").wait_for()
    assert set(await kept(api)) == {"no_interest"}
    # now hotkey 1 is free again
    await add(page, "callback", "Call back later", "1")
    await page.get_by_test_id("note").get_by_text("Disposition callback added.").wait_for()
    assert (await kept(api))["callback"].hotkey == 1


async def test_in_russian_a_duplicate_code_is_refused(site, browser, api):
    made = await api.post("/admin/dispositions", "admin", json={
        "scope_key": "support", "code": "sold", "label": "Продажа", "hotkey": 1})
    assert made.status_code == 201
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "root", goto="/administration/dispositions")
    await page.get_by_role("heading", name="Результаты звонков").wait_for()
    scope = page.get_by_test_id("disp-scope")
    await scope.get_by_label("Очередь (* — список по умолчанию)").fill("support")
    await scope.get_by_role("button", name="Открыть").click()
    await page.get_by_test_id("disp-list").get_by_text("Очередь support: 1 результат").wait_for()
    form = page.get_by_test_id("new-disposition")
    await form.get_by_label("Код").fill("sold")
    await form.get_by_label("Название").fill("Ещё продажа")
    await form.get_by_role("button", name="Добавить").click()
    assert "code 'sold' is already in this list" in await page.get_by_role("alert").inner_text()
    assert [d.label for d in (await kept(api)).values()] == ["Продажа"]
    policy = page.get_by_test_id("disp-policy")
    await policy.get_by_label("Результат обязателен").check()
    await policy.get_by_role("button", name="Сохранить правила обработки").click()
    await page.get_by_test_id("note").get_by_text(
        "Правила обработки сохранены: обязателен — да, 0 с.").wait_for()
    stored = await policy_of(api)
    assert stored is not None and (stored.required, stored.seconds) == (True, 0)


async def test_agents_and_supervisors_get_403(site, browser):
    for username in ("anna", "sue"):
        page = await new_page(browser, site)
        await sign_in(page, username)
        assert (await page.goto("/administration/dispositions")).status == 403, username
        statuses = await page.evaluate("""() => Promise.all([
            fetch('/admin/dispositions').then(r => r.status),
            fetch('/admin/wrapup-policies').then(r => r.status),
            fetch('/admin/dispositions', {method: 'POST', headers: {'Content-Type':
                'application/json'}, body: JSON.stringify({scope_key: 'support', code: 'x',
                label: 'x'})}).then(r => r.status)])""")
        assert statuses == [403, 403, 403], username


async def test_no_serious_accessibility_violations(site, browser, api):
    await api.post("/admin/dispositions", "admin", json={
        "scope_key": "support", "code": "sold", "label": "Sale", "hotkey": 1})
    found = {}
    for lang in ("en", "ru"):
        page = await new_page(browser, site, lang, bypass_csp=True)
        await sign_in(page, "root", goto="/administration/dispositions")
        await page.locator("input[name=key]").fill("support")
        await page.locator("input[name=key]").press("Enter")
        await page.get_by_test_id("disposition").first.wait_for()
        found[f"list {lang}"] = await serious_accessibility_violations(page)
        await page.get_by_test_id("disposition").first.locator("button").nth(2).click()  # Edit
        await page.locator("[data-testid=disposition].editing").wait_for()
        found[f"editing {lang}"] = await serious_accessibility_violations(page)
    assert found == {name: [] for name in found}
