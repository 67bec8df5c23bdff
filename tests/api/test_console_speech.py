"""The speech page in a real Chromium against the API on SQLite: transcripts and QA flags
seeded through the speech service, a keyword found with its speaker and moment, the player
jumping to that second, a flag reviewed and stored, the report per agent and per phrase; an
agent searching only their own calls and refused the QA side; English and Russian; axe-core."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from callcenter.calls.models import Call
from callcenter.console.pages import STATIC
from callcenter.recordings.models import Recording
from callcenter.speech import service as speech
from callcenter.speech.engines import TrackWords
from callcenter.speech.models import QAReview, QARule
from callcenter.speech.text import Word
from tests.api.test_console_reports import ffmpeg_wav, screenshot
from tests.browser import new_page, serious_accessibility_violations, sign_in


def said(text: str, start: float) -> list[Word]:
    return [Word(w, start + i, start + i + 0.8) for i, w in enumerate(text.split())]


@pytest.fixture
async def transcribed(api) -> dict[str, int]:
    """Two recorded calls (Anna's, Boris's) of a minute, transcribed per speaker, with a
    forbidden and a required phrase rule evaluated on them."""
    when = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    recordings = {}
    async with api.service.sessions() as session:
        session.add_all([
            QARule(queue=None, kind="forbidden", phrase="not my problem", language="en",
                   speaker="agent", active=True, created_at=when),
            QARule(queue="support", kind="required", phrase="good morning", language="en",
                   speaker="agent", within_seconds=10, active=True, created_at=when)])
        for agent, linkedid, minute in (("Anna", "call-anna", 1), ("Boris", "call-boris", 5)):
            path = api.service.settings.recordings_dir / "2026/11/20" / f"{linkedid}.wav"
            await ffmpeg_wav(path, 60)
            started = when.replace(minute=minute)
            session.add(Call(linkedid=linkedid, direction="inbound", caller="+79161234567",
                             called="+74950000000", started_at=started, queue="support",
                             answered_at=started, ended_at=started, agent=agent,
                             wait_seconds=3, talk_seconds=60, outcome="answered",
                             end_inferred=False))
            recording = Recording(linkedid=linkedid, path=str(path), format="wav",
                                  size_bytes=path.stat().st_size, duration_seconds=60.0,
                                  created_at=started)
            session.add(recording)
            await session.flush()
            recordings[agent] = recording.id
        await session.commit()
        await speech.save_transcription(session, recordings["Anna"], "call-anna", [
            TrackWords("agent", "en", said("good morning how can I help", 1.0)
                       + said("sorry that is not my problem", 17.0), 60.0),
            TrackWords("customer", "en", said("I want a refund for the broken router", 39.0),
                       60.0)], "test")
        await speech.save_transcription(session, recordings["Boris"], "call-boris", [
            TrackWords("agent", "en", said("hello we can refund it today", 30.0), 60.0)],
            "test")
    return recordings


async def audio_at(page) -> float:
    """Where the player is once it has loaded and jumped (the page seeks on loadedmetadata)."""
    audio = page.get_by_test_id("audio")
    await audio.wait_for()
    await page.wait_for_function("""() => {
        const a = document.querySelector('[data-testid=audio]');
        return a && a.readyState >= 1 && !a.seeking && a.currentTime > 0;
    }""")
    return await audio.evaluate("a => { a.pause(); return a.currentTime; }")


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_the_supervisor_finds_a_word_hears_it_and_reviews_the_call(
        site, browser, api, transcribed, lang):
    words = {"en": {"search": "Search", "hits": "1 transcript says it",
                    "customer": "customer", "save": "Save", "flags": "2 flags",
                    "saved": "Review of call call-anna saved.", "phrase_flags": "1 flag"},
             "ru": {"search": "Найти", "hits": "Найдено в 1 расшифровке",
                    "customer": "клиент", "save": "Сохранить", "flags": "2 отметки",
                    "saved": "Проверка звонка call-anna сохранена.",
                    "phrase_flags": "1 отметка"}}[lang]
    page = await new_page(browser, site, lang=lang)
    await sign_in(page, "sue", goto="/speech")
    assert page.url == f"{site}/speech"
    await page.get_by_test_id("nav-speech").wait_for()  # in the shared navigation
    await page.locator("input[name=q]").fill("refunds")
    await page.locator("select[name=speaker]").select_option("customer")
    await page.get_by_role("button", name=words["search"], exact=True).click()
    await page.get_by_test_id("hits-found").get_by_text(words["hits"], exact=True).wait_for()
    hit = page.locator("[data-testid=hit][data-linkedid=call-anna]")
    assert await hit.get_by_test_id("hit-speaker").inner_text() == words["customer"]
    assert "refund for the broken" in await hit.inner_text()
    play = hit.get_by_test_id("hit-play")
    assert (await play.inner_text()).strip() == "▶ 00:42"
    await play.focus()
    await page.keyboard.press("Enter")  # keyboard: the result is a button
    assert await audio_at(page) == pytest.approx(42, abs=0.5)

    # QA: the flags (Anna said the forbidden phrase at 20 s; Boris never said the greeting)
    await page.get_by_test_id("flags-found").get_by_text(words["flags"], exact=True).wait_for()
    await page.locator("select[name=phrase]").select_option("not my problem")
    await page.get_by_test_id("flags-found").get_by_text(words["phrase_flags"],
                                                          exact=True).wait_for()
    flag = page.locator("[data-testid=flag][data-linkedid=call-anna]")
    assert "00:20" in await flag.inner_text()
    await flag.get_by_test_id("review").click()
    form = page.get_by_test_id("review-form")
    await expect(form.locator("input[name=reviewed]")).to_be_focused()  # keyboard goes on
    await form.locator("input[name=score]").fill("35")
    await form.locator("input[name=exemplary]").check()
    await form.locator("textarea[name=note]").fill("Coach on tone")
    await form.get_by_role("button", name=words["save"]).click()
    await page.get_by_test_id("qa-note").get_by_text(words["saved"]).wait_for()
    async with api.service.sessions() as session:
        review = await session.scalar(select(QAReview).where(QAReview.linkedid == "call-anna"))
    assert (review.reviewed, review.score, review.exemplary, review.note, review.reviewed_by) \
        == (True, 35, True, "Coach on tone", "sue")
    await expect(flag.get_by_test_id("flag-review")).to_contain_text("35")
    # the calls not reviewed yet: Boris's only (choosing a phrase reloads, as Show does)
    await page.locator("select[name=reviewed]").select_option("false")
    await page.locator("select[name=phrase]").select_option("")
    await page.locator("[data-testid=flag][data-linkedid=call-boris]").wait_for()
    assert [await f.get_attribute("data-linkedid")
            for f in await page.get_by_test_id("flag").all()] == ["call-boris"]

    # the report: per agent and per phrase
    anna = page.locator("[data-testid=report-agent][data-agent=Anna] td")
    assert await anna.all_inner_texts() == ["Anna", "1", "1", "1", "0"]
    boris = page.locator("[data-testid=report-agent][data-agent=Boris] td")
    assert await boris.all_inner_texts() == ["Boris", "1", "1", "0", "1"]
    phrase = page.locator("[data-testid=report-phrase][data-phrase='good morning']")
    assert words["phrase_flags"] in await phrase.inner_text()
    await screenshot(page, f"speech-{lang}")


async def test_an_agent_searches_only_their_own_calls_and_is_refused_qa(
        site, browser, transcribed):
    page = await new_page(browser, site, lang="ru")
    await sign_in(page, "anna", goto="/speech")
    assert page.url == f"{site}/speech"
    await page.locator("input[name=q]").fill("refund")
    await page.get_by_role("button", name="Найти", exact=True).click()
    await page.get_by_test_id("hits-found").get_by_text("Найдено в 1 расшифровке").wait_for()
    assert [await h.get_attribute("data-linkedid")
            for h in await page.get_by_test_id("hit").all()] == ["call-anna"]
    await page.get_by_test_id("hit-play").click()
    assert await audio_at(page) == pytest.approx(42, abs=0.5)
    assert await page.get_by_test_id("flags-found").count() == 0
    statuses = await page.evaluate(f"""() => Promise.all([
        '/qa/flags', '/qa/report', '/qa/rules'].map(p => fetch(p).then(r => r.status))
        .concat([fetch('/qa/reviews/call-anna', {{method: 'PUT'}}).then(r => r.status),
                 fetch('/recordings/{transcribed["Boris"]}/url', {{method: 'POST'}})
                   .then(r => r.status)]))""")
    assert statuses[:3] == [403, 403, 403]
    assert statuses[3] in (403, 401)  # no CSRF token sent here: refused either way
    assert statuses[4] in (403, 404)  # Boris's recording is not hers
    boris = await page.evaluate("() => fetch('/transcripts?linkedid=call-boris')"
                                ".then(r => r.status)")
    assert boris == 404


async def test_no_serious_accessibility_violations_on_the_speech_page(
        site, browser, transcribed):
    found = {}
    for lang in ("en", "ru"):
        page = await new_page(browser, site, lang, bypass_csp=True)
        await sign_in(page, "sue", goto="/speech")
        await page.locator("input[name=q]").fill("refund")
        await page.locator("form[role=search] button[type=submit]").click()
        await page.get_by_test_id("hit").first.wait_for()
        await page.get_by_test_id("hit-play").first.click()
        await page.get_by_test_id("audio").wait_for()
        await page.get_by_test_id("review").first.click()
        await page.get_by_test_id("review-form").wait_for()
        await page.get_by_test_id("report-agent").first.wait_for()
        found[f"speech {lang}"] = await serious_accessibility_violations(page)
    assert found == {name: [] for name in found}


async def test_flags_filter_by_phrase_and_refuse_a_bad_one(api, transcribed):
    """GET /qa/flags?phrase= (the page's phrase filter): exactly the rule's phrase."""
    found = (await api.get("/qa/flags", "supervisor", params={"phrase": "good morning"})).json()
    assert [(f["linkedid"], f["kind"]) for f in found] == [("call-boris", "required")]
    assert (await api.get("/qa/flags", "supervisor",
                          params={"phrase": "good"})).json() == []
    long = await api.get("/qa/flags", "supervisor", params={"phrase": "x" * 201})
    assert long.status_code == 422 and "phrase" in long.text
    assert (await api.get("/qa/flags", "agent",
                          params={"phrase": "good morning"})).status_code == 403


async def test_the_speech_messages_exist_in_both_languages_with_russian_plurals(site, browser):
    page = await new_page(browser, site)
    await page.goto("/signin")
    forms = await page.evaluate("""import('/static/i18n.js').then(({translator}) => {
        const t = translator('ru');
        return [1, 2, 5, 11, 21, 22].map(n => [t('qa_flags_count', {n}), t('speech_hits', {n})]);
    })""")
    assert forms == [["1 отметка", "Найдено в 1 расшифровке"],
                     ["2 отметки", "Найдено в 2 расшифровках"],
                     ["5 отметок", "Найдено в 5 расшифровках"],
                     ["11 отметок", "Найдено в 11 расшифровках"],
                     ["21 отметка", "Найдено в 21 расшифровке"],
                     ["22 отметки", "Найдено в 22 расшифровках"]]
    # every message the page uses is written in Russian too, not fallen back to English
    source = (STATIC / "speech.js").read_text() + (STATIC / "player.js").read_text()
    keys = sorted(set(re.findall(r'\bt\("([a-z_]+)"', source)))
    missing = await page.evaluate("""keys => import('/static/i18n.js').then(({translator}) => {
        const en = translator('en'), ru = translator('ru');
        return keys.filter(k => ru(k, {n: 1}) === en(k, {n: 1}) || en(k, {n: 1}) === k);
    })""", keys)
    assert len(keys) > 30 and missing == []
