"""Callers still hear the recording notice and are recorded when the service's FastAGI is
unreachable: the dialplan asks the backup address, or does it by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.calls.clicktocall import click_to_call
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import recording_path, track_paths
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)
from tests.integration.test_ivr import entry_channel, unique_number
from tests.rig import free_port

pytestmark = pytest.mark.integration
NOTICE = "conf-now-recording"


@pytest.fixture
async def agi_globals(service) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Points the dialplan's CC_AGI / CC_AGI_BACKUP elsewhere for a test, then back."""
    client = service.ami.client
    names = ("CC_AGI", "CC_AGI_BACKUP")
    before = {name: (await client.action({"Action": "Getvar", "Variable": name})).get("Value", "")
              for name in names}

    async def point(**values: str) -> None:
        for name, value in values.items():
            await client.action({"Action": "Setvar", "Variable": name, "Value": value})

    yield point
    await point(**before)


@pytest.fixture
async def agent(service):
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    yield
    await logout_everyone(service, "support", "sales")


def agi_statuses(service, linkedid_box: list[str]) -> tuple[list[str], Callable[[], None]]:
    """CC_AGI_STATUS and CC_RECORDING_CONSENT values set on the call, in order, as
    "NAME=value"."""
    seen: list[str] = []

    def watch(event: dict[str, str]) -> None:
        if (linkedid_box and event.get("Linkedid") == linkedid_box[0]
                and event.get("Variable") in ("CC_AGI_STATUS", "CC_RECORDING_CONSENT")):
            seen.append(f"{event['Variable']}={event.get('Value', '')}")

    return seen, service.ami.subscribe(watch, frozenset({"VarSet"}))


async def recorded_call(service, asterisk, linkedid: str,
                        log_mark: int) -> tuple[list[str], Path]:
    """The sounds played to the caller, and the recording file on the service's contract."""
    call = await wait_for_call(service, linkedid, timeout=90)
    assert call.outcome == "answered"
    channel = await entry_channel(service, linkedid)
    played = [sound for sound, _ in asterisk.played(channel, since=log_mark)]
    path = recording_path(service.settings.recordings_dir, linkedid, call.started_at,
                          service.settings.recording_format)
    return played, path


async def test_unreachable_service_still_gives_the_notice_and_a_recording(
        service, asterisk, agent, agi_globals):
    await agi_globals(CC_AGI=f"agi://127.0.0.1:{free_port()}", CC_AGI_BACKUP="")
    box: list[str] = []
    statuses, unsubscribe = agi_statuses(service, box)
    served = service.agi.sessions_served
    mark = asterisk.log_mark()
    try:
        box.append(linkedid := await place_inbound_call(service, caller=unique_number(),
                                                        talk=2))
        played, path = await recorded_call(service, asterisk, linkedid, mark)
    finally:
        unsubscribe()

    assert service.agi.sessions_served == served  # the service was never asked
    assert played.count(NOTICE) == 1
    assert "CC_AGI_STATUS=UNREACHABLE" in statuses
    assert "CC_AGI_STATUS=FALLBACK" in statuses
    assert "CC_RECORDING_CONSENT=unknown" in statuses
    assert path.is_file() and path.stat().st_size > 44
    # the dialplan splits the speakers as the service does: caller's channel, so r() is them
    assert {speaker: track.stat().st_size > 44
            for speaker, track in track_paths(path).items()} == {"agent": True, "customer": True}
    async with service.sessions() as session:  # linked to its call like any other
        linked = await session.scalars(select(Recording.path)
                                       .where(Recording.linkedid == linkedid))
        assert list(linked) == [str(path)]


async def test_unreachable_service_still_records_a_click_to_call(service, agi_globals):
    await agi_globals(CC_AGI=f"agi://127.0.0.1:{free_port()}", CC_AGI_BACKUP="")
    call_id = await click_to_call(service.ami.client, service.tracker, agent="Olga",
                                  agent_interface="Local/2012@cc-test-agent/n",
                                  customer_e164="+79169876543")

    call = await wait_for_call(service, call_id, timeout=60)

    assert (call.direction, call.outcome) == ("outbound", "answered")
    path = recording_path(service.settings.recordings_dir, call_id, call.started_at,
                          service.settings.recording_format)
    assert path.is_file() and path.stat().st_size > 44
    async with service.sessions() as session:
        linked = await session.scalars(select(Recording.path)
                                       .where(Recording.linkedid == call_id))
        assert list(linked) == [str(path)]


async def test_the_backup_address_answers_when_the_first_is_unreachable(
        service, asterisk, agent, agi_globals):
    await agi_globals(CC_AGI=f"agi://127.0.0.1:{free_port()}",
                      CC_AGI_BACKUP=f"agi://127.0.0.1:{service.agi.port}")
    box: list[str] = []
    statuses, unsubscribe = agi_statuses(service, box)
    served = service.agi.sessions_served
    mark = asterisk.log_mark()
    try:
        box.append(linkedid := await place_inbound_call(service, caller=unique_number(),
                                                        talk=2))
        played, path = await recorded_call(service, asterisk, linkedid, mark)
    finally:
        unsubscribe()

    assert service.agi.sessions_served >= served + 2  # announce and lookup, by the backup
    assert played.count(NOTICE) == 1
    assert "CC_AGI_STATUS=SUCCESS" in statuses
    assert not [s for s in statuses if s.endswith(("UNREACHABLE", "FALLBACK", "unknown"))]
    assert path.is_file() and path.stat().st_size > 44


async def test_a_serving_service_plays_the_notice_once(service, asterisk, agent):
    mark = asterisk.log_mark()
    linkedid = await place_inbound_call(service, caller=unique_number(), talk=2)
    played, path = await recorded_call(service, asterisk, linkedid, mark)

    assert played.count(NOTICE) == 1
    assert path.is_file()
