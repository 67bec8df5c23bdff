"""FastAGI answers the PBX only: any other peer is closed without a word and logged."""

from __future__ import annotations

import asyncio
import logging
from ipaddress import ip_network

import pytest

from callcenter.agi.server import FastAGIServer
from callcenter.settings import Settings
from tests.unit.agi_peer import load, replay


async def _lookup(session) -> None:
    await session.set_variable("CC_NAME", "Мария Иванова")


@pytest.fixture
async def pbx_only():
    """Allows a network that does not hold 127.0.0.1, where the test connects from."""
    agi = FastAGIServer("127.0.0.1", 0, {"lookup": _lookup},
                        allowed_peers=[ip_network("10.20.0.0/16")])
    await agi.start()
    yield agi
    await agi.stop()


async def test_a_peer_outside_the_allowlist_is_closed_without_a_word(pbx_only, caplog):
    env = load("01-lookup.jsonl")[0]["data"]
    with caplog.at_level(logging.INFO):
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx_only.port)
        writer.write(env.encode())
        try:
            async with asyncio.timeout(5):
                answer = await reader.read()  # EOF: the server hung up
        except ConnectionResetError:  # it hung up with our environment unread
            answer = b""
        writer.close()
    assert answer == b""
    assert pbx_only.refused_peers == 1 and pbx_only.sessions_served == 0
    refused = [r for r in caplog.records if "peer not in agi_allowed_peers" in r.getMessage()]
    assert [r.peer for r in refused] == ["127.0.0.1"]
    assert "+79031234567" not in caplog.text and "Мария" not in caplog.text


async def test_a_peer_in_the_allowlist_is_served():
    agi = FastAGIServer("127.0.0.1", 0, {"lookup": _lookup},
                        allowed_peers=[ip_network("10.20.0.0/16"), ip_network("127.0.0.0/8")])
    await agi.start()
    try:
        sent = await replay(agi.port, [load("01-lookup.jsonl")[0],
                                       {"from": "asterisk", "data": "200 result=1\n"}])
    finally:
        await agi.stop()
    assert sent[0] == 'SET VARIABLE "CC_NAME" "Мария Иванова"'
    assert agi.refused_peers == 0


def test_only_loopback_is_allowed_by_default():
    assert [str(net) for net in Settings().agi_allowed_peers] == ["127.0.0.1/32", "::1/128"]
