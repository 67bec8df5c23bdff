"""A real Chromium (Debian's, from scripts/system-deps.sh) driven through Playwright: no
browser is ever downloaded (never `playwright install`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CALLCENTER_CHROMIUM", "/usr/bin/chromium"))
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "correct horse"


@asynccontextmanager
async def chromium() -> AsyncIterator[object]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (a stat, before anything runs)
        reason = f"no Chromium at {CHROMIUM}: run scripts/system-deps.sh test"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


async def new_page(browser, base: str, lang: str = "en", *, bypass_csp: bool = False):
    """A fresh browser profile (no cookies) whose first language is `lang`. `bypass_csp`: so
    that a test can inject axe-core, which the pages' policy would rightly refuse."""
    context = await browser.new_context(base_url=base, viewport=VIEWPORT, locale=lang,
                                        extra_http_headers={"Accept-Language": lang},
                                        bypass_csp=bypass_csp)
    return await context.new_page()


async def serious_accessibility_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    return await page.evaluate("""axe.run().then(result => result.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))""")


async def sign_in(page, username: str, password: str = PASSWORD, goto: str = "/") -> None:
    """As a person does: opens a page, is sent to the sign-in form, fills it in."""
    await page.goto(goto)
    await page.wait_for_url("**/signin**")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.locator("button[type=submit]").click()
    await page.wait_for_url(lambda url: "/signin" not in url)
