"""The browser console in a real Chromium against the API on SQLite (no Asterisk): sign-in,
the session cookie and its CSRF protection, which role sees which page, languages, and the
wallboard's pushed live picture (fed through the AMI listener's own event handler)."""

from __future__ import annotations

import time

from tests.browser import new_page, serious_accessibility_violations, sign_in


async def test_an_agent_signs_in_to_the_desktop_with_a_protected_session(site, browser):
    page = await new_page(browser, site)
    await sign_in(page, "anna", goto="/")
    assert page.url == f"{site}/desktop"
    # the agent socket is open, but there is no Asterisk here: the page says so, and the
    # status (in text, icon and colour) does not pretend the agent can take calls
    await page.get_by_text("The PBX is not connected").wait_for()
    assert await page.get_by_test_id("stale").count() == 1
    status = page.get_by_test_id("status")
    assert await status.get_attribute("data-state") == "offline"
    assert "Offline" in await status.inner_text()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["cc_session"]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert not cookies["cc_csrf"]["httpOnly"]
    assert "cc_session" not in await page.evaluate("document.cookie")  # scripts cannot read it
    # the API takes the cookie; a change of state needs the CSRF header as well
    me = await page.evaluate("fetch('/auth/me').then(r => r.json())")
    assert me["username"] == "anna"
    forged = await page.evaluate(
        "fetch('/auth/ws-ticket', {method: 'POST'}).then(r => r.status)")
    assert forged == 403
    with_token = await page.evaluate("""fetch('/auth/ws-ticket', {method: 'POST', headers:
        {'X-CSRF-Token': document.cookie.match(/cc_csrf=([^;]+)/)[1]}}).then(r => r.status)""")
    assert with_token == 200
    # another site cannot sign the user out: without the token nothing happens
    assert await page.evaluate(
        "fetch('/auth/session', {method: 'DELETE'}).then(r => r.status)") == 403
    assert await page.evaluate("fetch('/auth/me').then(r => r.status)") == 200
    # signing out ends the session in this browser
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/signin")
    assert "cc_session" not in {c["name"] for c in await page.context.cookies()}
    assert await page.evaluate("fetch('/auth/me').then(r => r.status)") == 401


async def test_a_wrong_password_is_refused_and_says_so(site, browser):
    page = await new_page(browser, site)
    await page.goto("/signin")
    await page.locator("input[name=username]").fill("anna")
    await page.locator("input[name=password]").fill("wrong")
    await page.locator("button[type=submit]").click()
    await page.get_by_role("alert").get_by_text("Wrong username or password.").wait_for()
    assert "cc_session" not in {c["name"] for c in await page.context.cookies()}


async def test_an_agent_cannot_open_the_supervisor_console_nor_its_feed(site, browser):
    page = await new_page(browser, site)
    await sign_in(page, "anna")
    for path in ("/supervisor", "/wallboard"):
        response = await page.goto(path)
        assert response.status == 403
        await page.get_by_text("This page is for supervisors.").wait_for()
        assert await page.get_by_test_id("tile").count() == 0
    # nor can a script of the page open the supervisors' socket with its ticket
    closed = await page.evaluate("""async () => {
        const csrf = document.cookie.match(/cc_csrf=([^;]+)/)[1];
        const {ticket} = await (await fetch('/auth/ws-ticket', {method: 'POST',
                                headers: {'X-CSRF-Token': csrf}})).json();
        const ws = new WebSocket(`ws://${location.host}/ws/supervisor?ticket=${ticket}`);
        return await new Promise(done => {
            ws.onmessage = () => done('message');
            ws.onclose = (e) => done(e.code);
        });
    }""")
    assert closed == 1006  # the handshake refused (closed before accept): no picture sent


async def test_the_supervisor_console_shows_a_caller_the_moment_they_join_in_russian(
        site, browser, api):
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "sue", goto="/")
    assert page.url == f"{site}/supervisor"
    # no Asterisk here: the page says the live picture is not current
    await page.get_by_text("АТС не подключена").wait_for()
    now = time.time()
    for event in (
        {"Event": "QueueMemberAdded", "Queue": "support", "Interface": "Local/2001@x/n",
         "MemberName": "Anna", "Paused": "0", "Timestamp": f"{now - 30}"},
        {"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "c1.1", "Linkedid": "c1.1",
         "CallerIDNum": "+79161234567", "CallerIDName": "Иван", "Timestamp": f"{now - 65}"},
    ):
        api.service.ami.on_event(event)
    tile = page.locator("[data-testid=tile][data-queue=support]")
    await tile.get_by_test_id("waiting").get_by_text("1 абонент ждёт").wait_for(timeout=3000)
    await page.get_by_test_id("caller").get_by_text("Иван · +79161234567").wait_for()
    wait = await tile.get_by_test_id("longest-wait").inner_text()
    assert "01:05" <= wait <= "01:08"  # from the server's timestamps, not since page load
    await tile.get_by_text("1 оператор").wait_for()
    row = page.locator("[data-testid=agent-row][data-agent=Anna]")
    assert "Готов" in await row.get_by_test_id("agent-state").inner_text()
    # in state since the server's event time
    assert "00:30" <= await row.get_by_test_id("agent-time").inner_text() <= "00:33"
    api.service.ami.on_event({"Event": "QueueCallerJoin", "Queue": "support",
                              "Uniqueid": "c2.1", "Linkedid": "c2.1",
                              "CallerIDNum": "+79160000002", "Timestamp": f"{now}"})
    await tile.get_by_test_id("waiting").get_by_text("2 абонента ждут").wait_for(timeout=3000)
    # switched to English in the page, without reloading
    await page.get_by_test_id("language").select_option("en")
    await tile.get_by_test_id("waiting").get_by_text("2 callers waiting").wait_for()


async def test_russian_plurals_and_the_site_time_zone_in_the_browser(site, browser):
    page = await new_page(browser, site, lang="ru")
    await page.goto("/signin")
    await page.get_by_role("heading", name="Вход").wait_for()
    calls = await page.evaluate("""import('/static/i18n.js').then(({translator}) => {
        const t = translator('ru');
        return [0, 1, 2, 4, 5, 11, 21, 22, 25, 111].map(n => t('calls', {n}));
    })""")
    assert calls == ["0 звонков", "1 звонок", "2 звонка", "4 звонка", "5 звонков",
                     "11 звонков", "21 звонок", "22 звонка", "25 звонков", "111 звонков"]
    english = await page.evaluate("""import('/static/i18n.js').then(({translator}) =>
        [1, 2].map(n => translator('en')('calls', {n})))""")
    assert english == ["1 call", "2 calls"]
    # the server tells the page its zone (Europe/Moscow by default): UTC 07:01 is 10:01 there
    shown = await page.evaluate("""import('/static/console.js').then(({formatTime}) =>
        formatTime('ru', '2026-11-20T07:01:00+00:00', true))""")
    assert shown == "20.11.2026, 10:01:00"


async def test_the_softphone_pop_url_shows_the_card_the_api_allows(site, browser, customer):
    supervisor = await new_page(browser, site)
    await sign_in(supervisor, "sue", goto="/pop?number=8%20916%20123-45-67")
    assert "/pop?number=" in supervisor.url  # back where the softphone sent them
    await supervisor.get_by_test_id("caller-name").get_by_text("Иван Петров").wait_for()
    assert await supervisor.get_by_test_id("call-count").inner_text() == "2 calls"
    # an agent who was never on a call with this number gets no card: the API refuses it
    agent = await new_page(browser, site)
    await sign_in(agent, "boris", goto="/pop?number=89161234567")
    await agent.get_by_test_id("call-note").get_by_text("No card for this number").wait_for()
    assert await agent.get_by_test_id("card").count() == 0


async def test_no_serious_accessibility_violations_on_any_page(site, browser, api):
    api.service.ami.on_event({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "a.1",
                              "Linkedid": "a.1", "CallerIDNum": "+79161234567",
                              "Timestamp": f"{time.time()}"})
    found = {}
    for lang in ("en", "ru"):
        page = await new_page(browser, site, lang, bypass_csp=True)
        await page.goto("/signin")
        await page.locator("input[name=username]").wait_for()
        found[f"signin {lang}"] = await serious_accessibility_violations(page)
        await sign_in(page, "anna")
        await page.get_by_test_id("status").wait_for()
        found[f"desktop {lang}"] = await serious_accessibility_violations(page)
        page = await new_page(browser, site, lang, bypass_csp=True)
        await sign_in(page, "sue", goto="/supervisor")
        await page.get_by_test_id("tile").first.wait_for()
        found[f"supervisor {lang}"] = await serious_accessibility_violations(page)
        await page.goto("/wallboard")
        await page.get_by_test_id("tile").first.wait_for()
        found[f"wallboard {lang}"] = await serious_accessibility_violations(page)
    assert found == {name: [] for name in found}
