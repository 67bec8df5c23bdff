"""The log of a realistic flow carries no full phone number, e-mail or token."""

from __future__ import annotations

import contextlib
import io
import logging
import re

import httpx
import pytest
import websockets
from sqlalchemy.exc import IntegrityError

from callcenter.api.app import create_app
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.logs import log_context, setup_logging
from tests.rig import serving

NUMBER = "+79161234567"
EMAIL = "ivan.petrov@example.com"


@pytest.fixture
def captured_log():
    """The service's own logging set-up (setup_logging), writing into a buffer; with
    uvicorn's access log switched on, as an operator debugging might."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    loggers = {name: logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")}
    saved_loggers = {name: (lg.level, lg.filters[:]) for name, lg in loggers.items()}
    setup_logging("INFO")
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    loggers["uvicorn.access"].setLevel(logging.INFO)
    yield buffer
    root.handlers[:], root.level = saved
    for name, (level, filters) in saved_loggers.items():
        loggers[name].setLevel(level)
        loggers[name].filters[:] = filters


async def test_no_number_email_or_token_in_the_log(api, customer, captured_log):
    log = logging.getLogger("callcenter.test")
    agent_token = api.tokens["agent"]
    async with serving(create_app(service=api.service)) as address, \
            httpx.AsyncClient(base_url=f"http://{address}") as http:
        # API calls with a bearer token and numbers in the query string
        await http.get("/screenpop", params={"number": NUMBER},
                       headers={"Authorization": f"Bearer {agent_token}"})
        await http.get("/contacts", params={"q": EMAIL}, headers=api.headers("supervisor"))
        # the agent's browser: a ticket in the WebSocket URL, and an old client's token (refused)
        ticket = (await http.post("/auth/ws-ticket",
                                  headers={"Authorization": f"Bearer {agent_token}"})
                  ).json()["ticket"]
        async with websockets.connect(f"ws://{address}/ws/agent?ticket={ticket}") as ws:
            await ws.recv()
        with contextlib.suppress(websockets.InvalidStatus):
            async with websockets.connect(f"ws://{address}/ws/agent?token={agent_token}"):
                pass
    # a failing SQL insert with the phone number as its parameter
    async with api.service.sessions() as session:
        session.add(Contact(name="Дубль", email=EMAIL,
                            numbers=[ContactNumber(number=NUMBER)]))
        try:
            await session.commit()
        except IntegrityError:
            log.exception("contact not saved", extra={"caller": NUMBER})
    # a channel name, an e-mail in an exception, a token passed by mistake, the call's context
    with log_context("1732441234.56"):
        log.warning("FastAGI route failed on PJSIP/79161234567-0000001",
                    extra={"channel": "PJSIP/79161234567-0000001", "customer": NUMBER})
        try:
            raise ValueError(f"cannot mail {EMAIL} for 8 (916) 123-45-67")
        except ValueError:
            log.exception("notification failed", extra={"token": agent_token,
                                                         "detail": f"Bearer {agent_token}"})

    text = captured_log.getvalue()
    assert "contact not saved" in text and "IntegrityError" in text  # the failure is there
    assert "linkedid=1732441234.56" in text  # the call's context
    assert 'GET /screenpop HTTP/1.1' in text  # the access log, without its query string
    assert "WebSocket /ws/agent" in text
    assert "PJSIP/*******4567-0000001" in text  # channel masked, still recognisable
    assert agent_token not in text
    assert ticket not in text
    assert agent_token[3:] not in text
    assert EMAIL not in text and "ivan.petrov" not in text
    digits_only = re.sub(r"[\s()\-]", "", text)
    assert "9161234567" not in digits_only, text
