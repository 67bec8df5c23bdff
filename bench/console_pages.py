"""The console's pages in a real Chromium (Debian's, through Playwright): how long each takes
to load until it shows its data, and how many bytes it downloads.

The service runs behind uvicorn on SQLite (the pages' cost is the browser's and the static
files', not the database's), with a day of 100 queue calls for the reports and the calls
page. Every load is cold: a fresh browser profile (empty cache) already signed in. Time:
from navigation to the page's own data on screen (the element named below), median of five.
Bytes: every response body (HTML, scripts, styles, vendored libraries, API answers) as sent
(no compression is configured), the served assets alone beside them. Baseline, same run:
the sign-in page, the least a page loads.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result
from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.migrate import upgrade
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_user
from tests.browser import CHROMIUM, PASSWORD, VIEWPORT
from tests.rig import free_port, serving

LOADS = 5
# page, user, what shows once the page has its data
PAGES = [
    ("/signin", None, "input[name=username]"),
    ("/desktop", "anna", "[data-testid=status]"),
    ("/wallboard", "sue", "[data-testid=stale]"),  # no Asterisk here: the stale banner
    ("/call-search", "sue", "[data-testid=found]"),
    ("/reports", "sue", "[data-testid=chart-sl] canvas"),
    ("/audit-log", "sue", "[data-testid=found]"),
    ("/administration/users", "root", "[data-testid=user]"),
]


async def _seed(service: Service) -> None:
    async with service.sessions() as session:
        for username, role, agent, interface in [
                ("root", "admin", None, None), ("sue", "supervisor", None, None),
                ("anna", "agent", "Anna", "Local/2001@agents/n")]:
            await create_user(session, username=username, role=role, agent_name=agent,
                              interface=interface, password=PASSWORD)
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for n in range(100):
            when = now.replace(hour=(6 + n // 10) % 24, minute=n % 60)
            answered = n % 7 != 0
            session.add(Call(linkedid=f"page-{n}", direction="inbound", caller="+79161234567",
                             called="+74950000000", started_at=when, queue="support",
                             answered_at=when, ended_at=when,
                             agent="Anna" if answered else None, wait_seconds=n % 40,
                             talk_seconds=60 + n if answered else None,
                             outcome="answered" if answered else "abandoned",
                             end_inferred=False))
        await session.commit()


async def _measure(base: str) -> dict[str, tuple[float, int, int]]:
    """page -> (median ms to its data, bytes in all, bytes of served assets)."""
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=["--no-sandbox"])
        states = {}
        for user in {u for _, u, _ in PAGES if u}:
            context = await browser.new_context(base_url=base)
            response = await context.request.post("/auth/session", data={
                "username": user, "password": PASSWORD})
            assert response.ok, await response.text()
            states[user] = await context.storage_state()
            await context.close()
        for path, user, ready in PAGES:
            times, sizes, assets = [], [], []
            for _ in range(LOADS):
                context = await browser.new_context(base_url=base, viewport=VIEWPORT,
                                                    storage_state=states.get(user))
                page = await context.new_page()
                bodies: list[tuple[str, int]] = []

                async def on_response(response, bodies=bodies) -> None:
                    try:
                        bodies.append((response.url, len(await response.body())))
                    except Exception:
                        bodies.append((response.url, 0))

                page.on("response", lambda r, h=on_response: asyncio.ensure_future(h(r)))
                started = time.perf_counter()
                await page.goto(path)
                await page.locator(ready).first.wait_for()
                times.append((time.perf_counter() - started) * 1000)
                await page.wait_for_load_state("networkidle")
                await asyncio.sleep(0.2)  # the body reads scheduled above finish
                sizes.append(sum(n for _, n in bodies))
                assets.append(sum(n for url, n in bodies
                                  if "/static/" in url or url.rstrip("/").endswith(path)))
                await context.close()
            out[path] = (statistics.median(times), max(sizes), max(assets))
        await browser.close()
    return out


async def _run(tmp: str) -> dict[str, tuple[float, int, int]]:
    url = f"sqlite+aiosqlite:///{tmp}/pages.db"
    await asyncio.to_thread(upgrade, url)
    service = Service(Settings(database_url=url, recordings_dir=Path(tmp) / "recordings",
                               spool_dir=Path(tmp) / "spool", ami_port=free_port(),
                               agi_port=0))
    await _seed(service)
    try:
        async with serving(create_app(service=service)) as address:
            return await _measure(f"http://{address}")
    finally:
        service.workers.shutdown()
        await service.engine.dispose()
        await service.telephony_engine.dispose()


def run(_url: str, tmp: str) -> list[Result]:
    if not CHROMIUM.exists():
        return []
    found = asyncio.run(_run(tmp))
    base_ms, _, base_assets = found["/signin"]
    out = []
    for path, (ms, total, assets) in found.items():
        name = f"console page {path}"
        out.append(Result(name, "load to data, cold cache (median)", ms, "ms",
                          "sign-in page", base_ms))
        out.append(Result(name, "downloaded, all responses", total / 1024, "KiB"))
        out.append(Result(name, "downloaded, served assets", assets / 1024, "KiB",
                          "sign-in page", base_assets / 1024))
    return out
