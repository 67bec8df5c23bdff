"""The supervisors' and admins' pages in a real Chromium against the API on SQLite: calls with
the recordings' player, reports, audit log, administration; in English and Russian; what an
agent gets there (403) and axe-core's serious findings (none)."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime

import pytest

from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.recordings.models import Recording
from tests.browser import chromium, new_page, serious_accessibility_violations, sign_in
from tests.rig import serving


@pytest.fixture
async def site(api):
    async with serving(create_app(service=api.service)) as address:
        yield f"http://{address}"


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


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
