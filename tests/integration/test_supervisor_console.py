"""The supervisor console in a real Chromium against the real Asterisk: from the agent grid a
supervisor pauses an agent with a reason, resumes them, listens to their call (their own
Local-channel phone gets a ChanSpy channel on it) and removes them from the queue — each seen
back in the grid from Asterisk's own events, each audited."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.audit.models import AuditEntry
from tests.browser import chromium, new_page, sign_in
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.integration.test_console import user_with_password
from tests.rig import serving

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(service):
    await logout_everyone(service, "support", "sales", "vip")
    async with serving(create_app(service=service)) as address:
        yield f"http://{address}"
    await logout_everyone(service, "support", "sales", "vip")


async def test_a_supervisor_acts_on_an_agent_from_the_grid_through_asterisk(service, site):
    await user_with_password(service, "grid-agent", "agent", "GridAgent",
                             "Local/2051@cc-test-agent/n")
    await user_with_password(service, "grid-sup", "supervisor", None,
                             "Local/9051@cc-test-supervisor/n")
    spying: list[dict[str, str]] = []
    unsubscribe = service.ami.subscribe(spying.append, frozenset({"ChanSpyStart"}))
    try:
        async with chromium() as browser:
            page = await new_page(browser, site)
            await sign_in(page, "grid-sup", goto="/supervisor")
            await login_agent(service, "support", "GridAgent", "2051")
            row = page.locator("[data-testid=agent-row][data-agent=GridAgent]")
            await row.get_by_test_id("pause-agent").wait_for(timeout=15000)
            await row.get_by_test_id("agent-reason").select_option("lunch")
            await row.get_by_test_id("pause-agent").click()
            await page.locator("[data-testid=agent-row][data-agent=GridAgent]"
                               "[data-state=paused]").wait_for(timeout=5000)
            assert "Paused: lunch" in await row.get_by_test_id("agent-state").inner_text()
            await row.get_by_test_id("resume-agent").click()
            await page.locator("[data-testid=agent-row][data-agent=GridAgent]"
                               "[data-state=ready]").wait_for(timeout=5000)
            linkedid = await place_inbound_call(service, caller="+79265550051", talk=20)
            await page.locator("[data-testid=agent-row][data-agent=GridAgent]"
                               "[data-state=on_call]").wait_for(timeout=15000)
            await row.get_by_test_id("spy-listen").click()
            await page.get_by_test_id("action-note").get_by_text(
                "answer it to listen to GridAgent").wait_for()
            async with asyncio.timeout(10):
                while not spying:
                    await asyncio.sleep(0.05)
            member = service.live.members["Local/2051@cc-test-agent/n"]
            assert spying[0]["SpyeeChannel"] == member.channel
            assert spying[0]["SpyerChannel"].startswith("Local/9051@cc-test-supervisor-")
            await row.get_by_role("button", name="Remove from support").click()
            await row.wait_for(state="detached", timeout=5000)
    finally:
        unsubscribe()
    async with service.sessions() as session:
        actions = set(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.username == "grid-sup", AuditEntry.object_id == "grid-agent")))
    assert {"agent.pause", "agent.unpause", "agent.listen", "agent.logout"} <= actions
    call = await wait_for_call(service, linkedid)
    assert call.agent == "GridAgent"
