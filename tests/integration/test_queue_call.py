"""The vertical slice: a real call through the real Asterisk lands in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from callcenter.api.app import create_app
from callcenter.recordings.models import Recording
from tests.integration.helpers import (
    bearer,
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def support_agent(service):
    await logout_everyone(service, "support", "sales")
    interface = await login_agent(service, "support", "Anna", "2001")
    yield interface
    await logout_everyone(service, "support", "sales")


async def test_answered_queue_call_is_recorded_with_agent_wait_talk_and_recording(
        service, support_agent, asterisk):
    linkedid = await place_inbound_call(service, caller="+79161234567", name="Ivan", talk=3)

    call = await wait_for_call(service, linkedid)

    assert call.direction == "inbound"
    assert call.caller == "+79161234567"
    assert call.called == "+74950000000"
    assert call.queue == "support"
    assert call.outcome == "answered"
    assert call.agent == "Anna"
    assert call.wait_seconds is not None and 0 <= call.wait_seconds <= 3
    assert call.talk_seconds is not None and 2 <= call.talk_seconds <= 5
    assert call.answered_at is not None and call.ended_at > call.answered_at

    # Asterisk's own queue_log agrees on agent, wait and talk
    log = [row for row in asterisk.queue_log() if row[1] == linkedid or row[1].startswith(linkedid)]
    completes = [row for row in log if row[4] in ("COMPLETECALLER", "COMPLETEAGENT")]
    assert completes, f"no COMPLETE line in queue_log for {linkedid}: {log}"
    assert completes[-1][3] == "Anna"
    assert float(completes[-1][5]) == call.wait_seconds
    assert float(completes[-1][6]) == call.talk_seconds

    # the recording exists on disk and is linked to the call
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/calls", params={"linkedid": linkedid},
                                  headers=await bearer(service, "sup-queue-call"))
    assert response.status_code == 200
    [body] = response.json()
    assert body["agent"] == "Anna"
    [recording] = body["recordings"]
    async with service.sessions() as session:
        path = Path((await session.get(Recording, recording["id"])).path)
    assert path.is_file() and path.stat().st_size > 44  # noqa: ASYNC240 (more than a header)
    assert path.is_relative_to(service.settings.recordings_dir)
    assert path.name == f"{linkedid}.wav"
    assert recording["size_bytes"] == path.stat().st_size  # noqa: ASYNC240


async def test_caller_who_gives_up_in_an_empty_queue_is_abandoned(service, support_agent):
    linkedid = await place_inbound_call(service, caller="89161112233", patience=4,
                                        variables={"CC_QUEUE": "sales"})

    call = await wait_for_call(service, linkedid)

    assert call.outcome == "abandoned"
    assert call.queue == "sales"
    assert call.agent is None
    assert call.caller == "+79161112233"
    assert call.abandon_position == 1
    assert call.wait_seconds is not None and 0 <= call.wait_seconds <= 4
