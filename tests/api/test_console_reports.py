"""The supervisors' and admins' pages in a real Chromium against the API on SQLite: calls with
the recordings' player, reports, audit log, administration; in English and Russian; what an
agent gets there (403) and axe-core's serious findings (none)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import UTC, datetime

import pytest

from callcenter.agents.models import AgentStateChange
from callcenter.calls.models import Call
from callcenter.recordings.models import Recording
from tests.browser import new_page, serious_accessibility_violations, sign_in


async def ffmpeg_wav(path, seconds: int) -> None:
    """A real telephone-quality WAV (8 kHz mono, as MixMonitor writes), long enough that a
    player must fetch the part it seeks to with a Range request of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(subprocess.run, [
        "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
        f"sine=frequency=440:sample_rate=8000:duration={seconds}", "-ac", "1",
        "-c:a", "pcm_s16le", str(path)], check=True)


@pytest.fixture
async def long_recording(api):
    when = datetime.now(UTC).replace(microsecond=0)
    path = api.service.settings.recordings_dir / "long" / "call-long.wav"
    await ffmpeg_wav(path, 600)
    async with api.service.sessions() as session:
        session.add(Call(linkedid="call-long", direction="inbound", caller="+79161234567",
                         called="+74950000000", started_at=when, queue="support",
                         answered_at=when, ended_at=when, agent="Anna", wait_seconds=12,
                         talk_seconds=600, outcome="answered", end_inferred=False))
        recording = Recording(linkedid="call-long", path=str(path), format="wav",
                              size_bytes=path.stat().st_size, duration_seconds=600.0,
                              created_at=when)
        session.add(recording)
        await session.commit()
        return recording.id


async def test_the_supervisor_finds_a_call_plays_its_recording_and_seeks(
        site, browser, long_recording):
    page = await new_page(browser, site)
    seen: list[tuple[str | None, int]] = []
    page.on("response", lambda r: seen.append((r.request.headers.get("range"), r.status))
            if "/play?" in r.url else None)
    await sign_in(page, "sue", goto="/call-search")
    assert page.url == f"{site}/call-search"
    await page.get_by_role("link", name="Reports").wait_for()  # the shared navigation
    await page.locator("input[name=number]").fill("8 916 123-45-67")
    await page.get_by_role("button", name="Search").click()
    row = page.locator("[data-testid=call][data-linkedid=call-long]")
    await row.wait_for()
    assert "10:00" in await row.inner_text()  # talk time
    await row.get_by_test_id("play").click()
    audio = page.get_by_test_id("audio")
    await audio.wait_for()
    await audio.evaluate("""a => new Promise((ok, fail) => {
        if (a.readyState >= 3) return ok();
        a.addEventListener('canplay', ok, {once: true});
        a.addEventListener('error', () => fail(a.error && a.error.message), {once: true});
    })""")
    assert await audio.evaluate("a => a.duration") == pytest.approx(600, abs=1)
    assert (await audio.get_attribute("src")).startswith(f"/recordings/{long_recording}/play?sig=")
    # seek far beyond what the player has: it asks for those bytes, and gets them as a 206
    position = await audio.evaluate("""a => new Promise((ok, fail) => {
        a.pause();
        a.addEventListener('seeked', () => ok(a.currentTime), {once: true});
        a.addEventListener('error', () => fail(a.error && a.error.message), {once: true});
        a.currentTime = 540;
    })""")
    assert position == pytest.approx(540, abs=1)
    ranged = [(r, s) for r, s in seen if r and not r.startswith("bytes=0-")]
    assert ranged, seen
    first = int(ranged[-1][0].removeprefix("bytes=").split("-")[0])
    assert first > 500 * 16000  # the bytes past 500 s of 8 kHz 16-bit audio
    assert ranged[-1][1] == 206
    # the download is the file itself, as an attachment
    async with page.expect_download() as download:
        await row.get_by_test_id("download").click()
    assert (await download.value).suggested_filename.endswith(".wav")


async def test_the_calls_page_exports_what_is_searched_as_csv(site, browser, customer):
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "sue", goto="/call-search")
    await page.locator("input[name=since]").fill("2026-11-20T00:00")
    await page.locator("input[name=until]").fill("2026-11-21T00:00")
    await page.locator("input[name=agent]").fill("Anna")
    await page.get_by_role("button", name="Найти").click()
    await page.get_by_test_id("found").get_by_text("1 звонок, с №1").wait_for()
    async with page.expect_download() as download:
        await page.get_by_test_id("export").click()
    text = (await (await download.value).path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0].startswith("linkedid,") and len(lines) == 2
    assert lines[1].startswith("call-anna,")
    await page.locator("input[name=agent]").fill("")
    await page.get_by_role("button", name="Найти").click()
    await page.get_by_test_id("found").get_by_text("2 звонка, с №1").wait_for()


async def screenshot(page, name: str) -> None:
    """The README's screenshots come from this test: CALLCENTER_SCREENSHOTS=docs/console."""
    folder = os.environ.get("CALLCENTER_SCREENSHOTS")
    if folder:
        await page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def a_working_day() -> list[dict]:
    """Queue calls of 20 Nov 2026, 09:00–18:59 Moscow time: more at midday, some abandoned,
    answered by Anna and Boris."""
    calls = []
    for hour in range(6, 16):  # UTC
        for n in range(4 + (hour % 5) * 3):
            wait = (n * 7 + hour) % 45
            abandoned = n % 5 == 4
            calls.append({"linkedid": f"d{hour}-{n}", "started_at": utc(hour, n * 2),
                          "queue": "support" if n % 3 else "sales",
                          "outcome": "abandoned" if abandoned else "answered",
                          "agent": None if abandoned else ("Anna", "Boris")[n % 2],
                          "wait_seconds": wait,
                          "talk_seconds": None if abandoned else 60 + (n * 37) % 400})
    return calls


def utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


@pytest.fixture
async def working_day(api) -> list[dict]:
    calls = a_working_day()
    async with api.service.sessions() as session:
        for call in calls:
            session.add(Call(direction="inbound", caller="+79161234567", called="+74950000000",
                             answered_at=call["started_at"], ended_at=call["started_at"],
                             end_inferred=False, **call))
        for queue in ("support", "sales"):
            for state, reason, at in (("login", None, utc(5, 55)), ("pause", "lunch", utc(9)),
                                      ("unpause", None, utc(9, 45)),
                                      ("pause", "break", utc(12)),
                                      ("unpause", None, utc(12, 15)),
                                      ("logout", None, utc(16, 5))):
                session.add(AgentStateChange(agent="Anna", interface="Local/2001@x/n",
                                             queue=queue, state=state, reason=reason, at=at))
        await session.commit()
    return calls


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_the_reports_page_charts_a_day_and_tables_the_agents(
        site, browser, working_day, lang):
    page = await new_page(browser, site, lang=lang)
    await sign_in(page, "sue", goto="/reports")
    await page.locator("input[name=since]").fill("2026-11-20T00:00")
    await page.locator("input[name=until]").fill("2026-11-21T00:00")
    await page.locator("button[type=submit]").click()
    offered = len(working_day)
    abandoned = sum(c["outcome"] == "abandoned" for c in working_day)
    words = {"en": (f"{offered} calls", f"{abandoned} calls"),
             "ru": (f"{offered} звонков", f"{abandoned} звонков")}[lang]
    assert (offered, abandoned) == (100, 16)  # both take the "many" form in Russian
    await page.get_by_test_id("offered").get_by_text(words[0], exact=True).wait_for()
    assert (await page.get_by_test_id("abandoned").inner_text()).startswith(words[1])
    within = sum(c["outcome"] == "answered" and c["wait_seconds"] <= 20 for c in working_day)
    assert await page.get_by_test_id("service-level").inner_text() == \
        f"{within / offered * 100:.1f}%"
    # both charts drawn by uPlot (canvas), with their legends in the page's language
    for chart in ("chart-calls", "chart-sl"):
        await page.locator(f"[data-testid={chart}] canvas").first.wait_for()
    legend = await page.get_by_test_id("chart-calls").inner_text()
    assert {"en": "Answered", "ru": "Принято"}[lang] in legend
    anna = page.locator("[data-testid=agent-row][data-agent=Anna]")
    cells = await anna.locator("td").all_inner_texts()
    answered_by_anna = [c for c in working_day if c["agent"] == "Anna"]
    assert cells[1] == str(len(answered_by_anna))
    assert cells[4] == "1:00:00"  # 45 min lunch + 15 min break
    lunch = {"en": "lunch 45:00", "ru": "lunch 45:00"}[lang]
    assert lunch in cells[5] and "break 15:00" in cells[5]
    assert cells[6] == "10:10:00"  # 05:55 to 16:05 UTC
    talk = sum(c["talk_seconds"] for c in answered_by_anna)
    assert cells[7] == f"{talk / (10 * 3600 + 600 - 3600) * 100:.1f}%"
    await screenshot(page, f"reports-{lang}")


async def test_an_agent_cannot_open_these_pages_nor_read_their_apis(site, browser):
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "anna")
    for path in ("/call-search", "/reports", "/audit-log", "/administration/users",
                 "/administration/card-fields"):
        response = await page.goto(path)
        assert response.status == 403, path
    await page.get_by_text("Эта страница — для администраторов.").wait_for()
    assert await page.get_by_test_id("nav-reports").count() == 0  # nor a link to them
    statuses = await page.evaluate("""() => Promise.all([
        '/reports/intervals', '/reports/agents', '/audit', '/users', '/admin/pause-reasons',
        '/admin/card-fields'].map(p => fetch(p).then(r => r.status)))""")
    assert statuses == [403] * 6
    supervisor = await new_page(browser, site)
    await sign_in(supervisor, "sue")
    assert (await supervisor.goto("/administration/users")).status == 403
    assert (await supervisor.goto("/reports")).status == 200


async def test_the_admin_manages_users_and_tokens_in_russian(site, browser, api):
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "root", goto="/administration/users")
    form = page.get_by_test_id("new-user")
    await form.get_by_label("Имя пользователя").fill("vera")
    await form.locator("select[name=role]").select_option("agent")
    await form.get_by_label("Пароль", exact=True).fill("another horse")
    await form.get_by_label("Имя оператора").fill("Vera")
    await form.get_by_label("Телефон (интерфейс)").fill("PJSIP/1003")
    await form.get_by_role("button", name="Создать").click()
    secret = page.get_by_test_id("secret")
    await secret.wait_for()
    token = (await secret.locator(".secret").inner_text()).strip()
    assert token.startswith("cc_")
    me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["agent_name"] == "Vera"
    await page.get_by_role("heading", name="5 пользователей").wait_for()
    vera = page.locator("[data-testid=user][data-username=vera]")
    await vera.get_by_role("button", name="Сменить пароль").click()
    await vera.get_by_label("Новый пароль").fill("third horse!")
    await vera.get_by_role("button", name="Сохранить").click()
    await page.get_by_test_id("note").get_by_text("Для vera задан новый пароль.").wait_for()
    login = await api.client.post("/auth/login", json={"username": "vera",
                                                       "password": "third horse!"})
    assert login.status_code == 200
    await vera.get_by_role("button", name="Отозвать токены").click()
    await page.get_by_test_id("note").get_by_text(
        "vera: отозван 1 API-токен, сеансы завершены.").wait_for()
    me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    await vera.get_by_role("button", name="Отключить").click()
    await vera.get_by_text("⛔ отключён").wait_for()
    login = await api.client.post("/auth/login", json={"username": "vera",
                                                       "password": "third horse!"})
    assert login.status_code == 401


async def test_the_admin_sets_interfaces_pause_reasons_and_card_fields(site, browser, api):
    page = await new_page(browser, site)
    await sign_in(page, "root", goto="/administration/interfaces")
    boris = page.locator("[data-testid=interface][data-username=boris]")
    await boris.get_by_label("Phone (interface)").fill("PJSIP/1002")
    await boris.get_by_role("button", name="Save").click()
    await page.get_by_test_id("note").get_by_text("Saved for boris.").wait_for()
    users = {u["username"]: u for u in (await api.get("/users", "admin")).json()}
    assert users["boris"]["interface"] == "PJSIP/1002"
    await boris.get_by_label("Phone (interface)").fill("not a phone; rm")
    await boris.get_by_role("button", name="Save").click()
    await page.get_by_test_id("note").get_by_text("interface").wait_for()  # the 422 names it

    await page.get_by_role("link", name="Pause reasons").click()
    await page.get_by_test_id("pause-source").get_by_text("from the service's settings").wait_for()
    await page.locator("textarea[name=reasons]").fill("coffee\ncoaching\n")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_test_id("note").get_by_text("2 pause reasons saved.").wait_for()
    await page.get_by_test_id("pause-source").get_by_text("set here").wait_for()
    # what agents may pause with is now the list set here: an old reason is refused (422),
    # a new one passes to Asterisk (absent here: 503)
    refused = await api.post("/agents/me", "agent", json={"action": "pause", "reason": "lunch"})
    assert refused.status_code == 422 and "coffee, coaching" in refused.text
    taken = await api.post("/agents/me", "agent", json={"action": "pause", "reason": "coffee"})
    assert taken.status_code == 503

    await page.get_by_role("link", name="Card fields agents see").click()
    await page.locator("input[name=new_field]").fill("company")
    await page.get_by_role("button", name="Add").click()
    row = page.locator("[data-testid=card-field][data-field=company]")
    await row.get_by_label("Kind: company").select_option("name")
    await row.get_by_label("Agents see it: company").check()
    await page.get_by_role("button", name="Save").click()
    await page.get_by_test_id("note").get_by_text("Card fields saved.").wait_for()
    fields = (await api.get("/admin/card-fields", "admin")).json()
    assert fields["fields"] == {"company": {"kind": "name", "agent_visible": True}}


async def test_the_audit_log_filters_and_pages(site, browser, api, customer):
    for _ in range(30):  # 60 listens and downloads, audited
        await api.get(f"/recordings/{customer['anna_recording']}", "supervisor",
                      headers={"Range": "bytes=0-9"})
        await api.get(f"/recordings/{customer['anna_recording']}", "agent")
    page = await new_page(browser, site)
    await sign_in(page, "sue", goto="/audit-log")
    found = page.get_by_test_id("found")
    await found.get_by_text("50 entries from #1, more on the next page").wait_for()
    await page.get_by_role("button", name="Next →").click()
    await found.get_by_text("10 entries, from #51").wait_for()
    await page.locator("input[name=username]").fill("anna")
    await page.get_by_role("button", name="Search").click()
    await found.get_by_text("30 entries, from #1").wait_for()
    actions = await page.locator("[data-testid=entry] td:nth-child(3)").all_inner_texts()
    assert set(actions) == {"recording.download"}
    await page.get_by_test_id("language").select_option("ru")
    await found.get_by_text("30 записей, с №1").wait_for()


async def test_no_serious_accessibility_violations_on_these_pages(site, browser, customer,
                                                                  working_day):
    found = {}
    for lang in ("en", "ru"):
        page = await new_page(browser, site, lang, bypass_csp=True)
        await sign_in(page, "root", goto="/call-search")
        await page.locator("input[name=since]").fill("2026-11-20T13:01")  # the recorded ones
        await page.locator("input[name=until]").fill("2026-11-20T13:03")
        await page.locator("button[type=submit]").click()
        await page.get_by_test_id("call").first.wait_for()
        await page.get_by_test_id("play").first.click()
        await page.get_by_test_id("audio").wait_for()
        found[f"calls {lang}"] = await serious_accessibility_violations(page)
        await page.goto("/reports")
        await page.locator("input[name=since]").fill("2026-11-20T00:00")
        await page.locator("button[type=submit]").click()
        await page.locator("[data-testid=chart-calls] canvas").first.wait_for()
        await page.get_by_test_id("agent-row").first.wait_for()
        found[f"reports {lang}"] = await serious_accessibility_violations(page)
        await page.goto("/audit-log")
        await page.get_by_test_id("entry").first.wait_for()
        found[f"audit {lang}"] = await serious_accessibility_violations(page)
        for section, ready in (("users", "user"), ("interfaces", "interface"),
                               ("pause-reasons", "pause-source"),
                               ("card-fields", "card-fields")):
            await page.goto(f"/administration/{section}")
            await page.get_by_test_id(ready).first.wait_for()
            found[f"{section} {lang}"] = await serious_accessibility_violations(page)
    assert found == {name: [] for name in found}
