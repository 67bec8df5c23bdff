"""schemathesis against the whole HTTP API, on SQLite and on PostgreSQL, as every identity.

Each generated request is sent four times: as an admin, a supervisor, an agent and with no
token. The build fails on any 500, any status the OpenAPI schema does not document, and any
body that does not match the schema documented for its status. Asterisk is not running: the
operations that need it must answer their documented 503, and they are fuzzed like the rest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from callcenter.api.app import create_app
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.api.conftest import write_wav
from tests.rig import free_port

# Examples per operation and database: ~30 operations x 2 databases x 4 identities stay
# within about three minutes on a 2-core machine.
MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
IDENTITIES = ("admin", "supervisor", "agent", None)


def _in_own_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Setup runs on a loop of its own; the app then runs on schemathesis's ASGI loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _seed(service: Service) -> dict[str, str]:
    """One user per role, and a contact, a recorded call and a callback for ids to find."""
    tokens = {}
    async with service.sessions() as session:
        for username, role, agent, interface in [
            ("root", "admin", None, None), ("sue", "supervisor", None, None),
            ("anna", "agent", "Anna", "Local/2001@cc-test-agent/n")]:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface, password="correct horse")
            tokens[role] = await create_token(session, user)
        when = datetime(2026, 11, 20, 10, 1, tzinfo=UTC)
        session.add(Contact(name="Иван Петров", email="ivan@example.com", vip=True,
                            fields={"company": "Roga i Kopyta"},
                            numbers=[ContactNumber(number="+79161234567", label="mobile")]))
        session.add(Call(linkedid="call-anna", direction="inbound", caller="+79161234567",
                         called="+74950000000", started_at=when, queue="support",
                         answered_at=when, ended_at=when, agent="Anna", wait_seconds=3,
                         talk_seconds=60, outcome="answered", end_inferred=False))
        path = write_wav(service.settings.recordings_dir / "2026/11/20/call-anna.wav", 0.2)
        session.add(Recording(linkedid="call-anna", path=str(path), format="wav",
                              size_bytes=path.stat().st_size, duration_seconds=0.2,
                              created_at=when))
        session.add(Callback(number="+79161234567", queue="support", source="abandoned",
                             requested_at=when, status="open"))
        await session.commit()
    await service.engine.dispose()  # its connections belong to this loop
    return tokens


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    base: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{base}/fuzz.db"
    else:
        url = request.getfixturevalue("postgres").create_database("fuzz")
    upgrade(url)
    settings_ = Settings(database_url=url, recordings_dir=base / "recordings",
                         spool_dir=base / "spool", ami_port=free_port(), agi_port=0,
                         events_max_wait_seconds=0.05)  # long polls: not held open here
    service = Service(settings_)
    tokens = _in_own_loop(_seed(service))
    yield create_app(service=service), tokens


def _spec_only_app() -> Any:
    """The OpenAPI document does not depend on the database: read it from an app never run."""
    settings_ = Settings(database_url="sqlite+aiosqlite://", secret_key="schema only",
                         ami_port=free_port(), agi_port=0)
    return create_app(service=Service(settings_))


# 503 is a documented answer (Asterisk not connected, a part of /health down); a 500 is not
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", _spec_only_app(), config=CONFIG)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_holds_for_any_input(case: schemathesis.Case,
                                 fuzzed: tuple[Any, dict[str, str]]) -> None:
    app, tokens = fuzzed
    for identity in IDENTITIES:
        headers = {"Authorization": f"Bearer {tokens[identity]}"} if identity else {}
        case.call_and_validate(headers=headers, checks=CHECKS, app=app)
