"""The announce route when the database does not answer: the notice is still played, the
recording follows recording_when_consent_unknown, and the wait holds to agi_db_timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from callcenter.agi.routes import Routes
from callcenter.agi.server import FastAGIServer
from callcenter.db import create_engine, session_factory
from callcenter.ivr.config import load_ivr
from callcenter.settings import Settings
from tests.rig import write_test_ivr

TIMEOUT = 0.5
MARGIN = 0.5
ENVIRONMENT = ("agi_network: yes\nagi_network_script: announce\n"
               "agi_channel: Local/74950000000@callcenter-inbound-00000001;2\n"
               "agi_uniqueid: 1700000000.1\nagi_callerid: +79031234567\n\n")


class HangingSession:
    """A session on a database that stopped answering: queries never return, and closing
    the broken connection takes 2 s (as SQLAlchemy's graceful close of an asyncpg
    connection it invalidated does, shielded from cancellation)."""

    async def __aenter__(self) -> HangingSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(asyncio.sleep(2))

    async def scalars(self, *args: object, **kwargs: object) -> object:
        await asyncio.Event().wait()

    execute = scalars


async def answer_as_asterisk(port: int) -> tuple[list[str], float]:
    """Plays Asterisk's side of an announce: every command succeeds at once. Returns the
    commands the service sent and the seconds until it said CC_AGI_STATUS."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(ENVIRONMENT.encode())
    sent: list[str] = []
    try:
        while True:
            async with asyncio.timeout(10):
                line = (await reader.readline()).decode().rstrip("\n")
            if not line:
                raise AssertionError(f"the service closed before CC_AGI_STATUS: {sent}")
            sent.append(line)
            if line.startswith('SET VARIABLE "CC_AGI_STATUS"'):
                return sent, time.monotonic() - started
            if line == 'GET VARIABLE "CHANNEL(linkedid)"':
                writer.write(b"200 result=1 (1700000000.1)\n")
            else:
                writer.write(b"200 result=0\n")
    finally:
        writer.close()


@asynccontextmanager
async def agi_server(tmp_path, sessions, **settings: object) -> AsyncIterator[FastAGIServer]:
    config = Settings(recordings_dir=tmp_path / "recordings", agi_db_timeout=TIMEOUT,
                      **settings)
    routes = Routes(config, sessions, load_ivr(write_test_ivr(tmp_path)))
    server = FastAGIServer("127.0.0.1", 0, routes.table())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await routes.close()


async def test_a_hanging_database_still_gets_the_notice_and_a_recording_marked_unknown(
        tmp_path):
    async with agi_server(tmp_path, HangingSession) as server:
        sent, seconds = await answer_as_asterisk(server.port)

    assert seconds < TIMEOUT + MARGIN
    assert 'STREAM FILE "conf-now-recording" ""' in sent
    assert 'SET VARIABLE "CC_RECORDING_CONSENT" "unknown"' in sent
    [mixmonitor] = [c for c in sent if c.startswith('EXEC "MixMonitor"')]
    assert "/1700000000.1.wav" in mixmonitor
    assert sent.index('SET VARIABLE "CC_RECORDING_CONSENT" "unknown"') < sent.index(mixmonitor)
    assert sent[-1] == 'SET VARIABLE "CC_AGI_STATUS" "SUCCESS"'


async def test_consent_unknown_can_be_configured_to_skip_recording(tmp_path):
    async with agi_server(tmp_path, HangingSession,
                          recording_when_consent_unknown="skip") as server:
        sent, seconds = await answer_as_asterisk(server.port)

    assert seconds < TIMEOUT + MARGIN
    assert 'STREAM FILE "conf-now-recording" ""' in sent
    assert 'SET VARIABLE "CC_RECORDING_CONSENT" "unknown"' in sent
    assert not [c for c in sent if "MixMonitor" in c]


@pytest.fixture
async def silent_postgres() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word, like a PostgreSQL host whose
    process is stopped."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_silent_postgresql_holds_announce_no_longer_than_the_timeout(
        tmp_path, silent_postgres):
    engine = create_engine(f"postgresql+asyncpg://callcenter@127.0.0.1:{silent_postgres}/x")
    try:
        async with agi_server(tmp_path, session_factory(engine)) as server:
            sent, seconds = await answer_as_asterisk(server.port)
    finally:
        await engine.dispose()

    assert seconds < TIMEOUT + MARGIN
    assert 'SET VARIABLE "CC_RECORDING_CONSENT" "unknown"' in sent
    assert [c for c in sent if c.startswith('EXEC "MixMonitor"')]
