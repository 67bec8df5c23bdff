"""The supervisor plays the recording of a real queue call (made through the real Asterisk,
recorded by its MixMonitor) from the calls page in a real Chromium: the audio element reaches
`canplay` on a signed URL, asks for the file with a Range request answered 206, and seeks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.users.models import User
from callcenter.users.service import create_user
from tests.browser import PASSWORD, chromium, new_page, sign_in
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.rig import serving

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(service):
    await logout_everyone(service, "support", "sales")
    async with serving(create_app(service=service)) as address:
        yield f"http://{address}"
    await logout_everyone(service, "support", "sales")


async def test_the_supervisor_plays_a_real_recording_and_seeks(service, site):
    await login_agent(service, "support", "Anna", "2001")
    linkedid = await place_inbound_call(service, caller="+79161230099", name="Player", talk=6)
    call = await wait_for_call(service, linkedid)
    assert call.outcome == "answered"
    async with service.sessions() as session:
        if await session.scalar(select(User).where(User.username == "player-sup")) is None:
            await create_user(session, username="player-sup", role="supervisor",
                              password=PASSWORD)
            await session.commit()
    site_day = (call.started_at + timedelta(hours=3)).replace(tzinfo=None)  # Moscow
    async with chromium() as browser:
        page = await new_page(browser, site, lang="ru")
        seen: list[tuple[str | None, int]] = []
        page.on("response", lambda r: seen.append((r.request.headers.get("range"), r.status))
                if "/play?" in r.url else None)
        await sign_in(page, "player-sup", goto="/call-search")
        await page.locator("input[name=since]").fill(
            (site_day - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
        await page.locator("input[name=until]").fill(
            (site_day + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
        await page.locator("input[name=number]").fill("+79161230099")
        await page.get_by_role("button", name="Найти").click()
        row = page.locator(f"[data-testid=call][data-linkedid='{linkedid}']")
        await row.get_by_text("Anna").wait_for()
        await row.get_by_test_id("play").click()
        audio = page.get_by_test_id("audio")
        await audio.evaluate("""a => new Promise((ok, fail) => {
            if (a.readyState >= 3) return ok();
            a.addEventListener('canplay', ok, {once: true});
            a.addEventListener('error', () => fail(a.error && a.error.message), {once: true});
        })""")
        duration = await audio.evaluate("a => a.duration")
        assert 4 <= duration <= 10  # the call's talk, as MixMonitor wrote it
        position = await audio.evaluate("""a => new Promise(ok => {
            a.pause();
            a.addEventListener('seeked', () => ok(a.currentTime), {once: true});
            a.currentTime = a.duration - 1;
        })""")
        assert position == pytest.approx(duration - 1, abs=0.5)
        assert any(r and r.startswith("bytes=") and s == 206 for r, s in seen), seen
