"""Inbound calls through announce + lookup + IVR with real DTMF, in the real Asterisk."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.callbacks.models import Callback
from callcenter.calls.models import CallLeg
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.recordings.models import Recording
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_call,
)

pytestmark = pytest.mark.integration
IVR = {"CC_IVR_MENU": "main"}


@pytest.fixture
async def agents(service):
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "sales", "Sveta", "2003")
    await login_agent(service, "support", "Anna", "2001")
    yield
    await logout_everyone(service, "support", "sales")


async def add_contact(service, number: str, **fields) -> Contact:
    async with service.sessions() as session:
        contact = Contact(name=fields.pop("name", "Мария Иванова"), **fields)
        contact.numbers.append(ContactNumber(number=number))
        session.add(contact)
        await session.commit()
        return contact


async def entry_channel(service, linkedid: str) -> str:
    async with service.sessions() as session:
        legs = await session.scalars(select(CallLeg.channel).where(CallLeg.linkedid == linkedid))
    return next(ch for ch in legs if "callcenter-inbound" in ch and ch.endswith(";2"))


def unique_number() -> str:
    return "+7903" + str(uuid.uuid4().int)[:7]


async def test_vip_contact_picks_billing_then_sales_by_dtmf(service, asterisk, agents):
    number = unique_number()
    contact = await add_contact(service, number, language="ru", vip=True)
    linkedid = await place_inbound_call(service, caller=number, name="", variables=IVR,
                                        press=["3", "1"])

    call = await wait_for_call(service, linkedid, timeout=90)

    assert (call.queue, call.agent, call.outcome) == ("sales", "Sveta", "answered")
    assert call.ivr_path == "main>3>billing>1", _seen(service, call)
    assert call.contact_id == contact.id and call.vip
    assert call.caller == number and call.caller_name == "Мария Иванова"
    # the notice in the contact's language, and the recording on disk, linked to the call
    played = asterisk.played(await entry_channel(service, linkedid))
    assert ("conf-now-recording", "ru") in played
    async with service.sessions() as session:
        [recording] = await session.scalars(select(Recording).where(
            Recording.linkedid == linkedid))
    assert Path(recording.path).stat().st_size > 44  # noqa: ASYNC240


async def test_invalid_digit_gets_the_invalid_prompt_then_a_second_try(service, asterisk,
                                                                     agents):
    linkedid = await place_inbound_call(service, caller=unique_number(), variables=IVR,
                                        press=["7", "2"])
    call = await wait_for_call(service, linkedid, timeout=90)
    assert call.ivr_path == "main>invalid:7>2", _seen(service, call)
    assert (call.queue, call.agent, call.outcome) == ("support", "Anna", "answered")
    played = [sound for sound, _ in asterisk.played(await entry_channel(service, linkedid))]
    assert "please-try-again" in played


async def test_no_digit_falls_back_to_the_operator_after_the_retries(service, agents):
    linkedid = await place_inbound_call(service, caller=unique_number(), variables=IVR)
    call = await wait_for_call(service, linkedid, timeout=90)
    assert call.ivr_path == "main>timeout>timeout>failed", _seen(service, call)
    assert (call.queue, call.outcome) == ("support", "answered")


async def test_out_of_hours_menu_says_goodbye_without_queueing(service, asterisk, agents):
    linkedid = await place_inbound_call(service, caller=unique_number(),
                                        variables={"CC_IVR_MENU": "closed"})
    call = await wait_for_call(service, linkedid, timeout=60)
    assert (call.outcome, call.queue, call.agent) == ("closed", None, None)
    assert call.ivr_path == "closed>closed", _seen(service, call)
    played = [sound for sound, _ in asterisk.played(await entry_channel(service, linkedid))]
    assert "vm-goodbye" in played


async def test_caller_hanging_up_in_the_menu_is_recorded_where_they_left(service, agents):
    linkedid = await place_inbound_call(service, caller=unique_number(), variables=IVR,
                                        patience=5)
    call = await wait_for_call(service, linkedid, timeout=60)
    assert (call.outcome, call.queue, call.hangup_by) == ("abandoned", None, "customer")
    assert call.ivr_path == "main", _seen(service, call)


async def test_caller_who_opted_out_is_not_recorded_and_the_call_is_flagged(service, agents):
    number = unique_number()
    await add_contact(service, number, name="Private Person", recording_opt_out=True)
    linkedid = await place_inbound_call(service, caller=number, variables={"CC_QUEUE": "sales"})
    call = await wait_for_call(service, linkedid, timeout=60)
    assert call.outcome == "answered" and call.recording_opt_out
    async with service.sessions() as session:
        assert list(await session.scalars(select(Recording).where(
            Recording.linkedid == linkedid))) == []
    assert not list(service.settings.recordings_dir.rglob(f"{linkedid}.*"))


async def test_callback_request_from_the_menu(service, agents):
    number = unique_number()
    linkedid = await place_inbound_call(service, caller=number, variables=IVR, press=["8"])
    call = await wait_for_call(service, linkedid, timeout=60)
    assert call.outcome == "callback_requested"
    async with service.sessions() as session:
        [callback] = await session.scalars(select(Callback).where(Callback.number == number))
    assert (callback.source, callback.queue, callback.status) == ("ivr", "support", "open")
    assert callback.linkedid == linkedid


def _seen(service, call) -> str:
    """What to read when a call's IVR path is missing: whose record it is (the ledger's alone
    knows no IVR path) and whether the live path saw the call at all."""
    return (f"source={call.source} evidence={call.evidence} end_inferred={call.end_inferred} "
            f"ami_events={service.ami.events_seen} ami_connected={service.ami.connected}")
