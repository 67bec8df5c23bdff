"""The HTTP API on an embedded SQLite database, with one user per role."""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.migrate import upgrade
from callcenter.recordings.models import Recording
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.browser import chromium
from tests.rig import free_port, serving


@dataclass
class Api:
    service: Service
    client: httpx.AsyncClient
    tokens: dict[str, str]

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    async def get(self, path: str, role: str | None, headers: dict[str, str] | None = None,
                  **kw) -> httpx.Response:
        return await self.client.get(path, headers={**self.headers(role), **(headers or {})},
                                     **kw)

    async def post(self, path: str, role: str | None, **kw) -> httpx.Response:
        return await self.client.post(path, headers=self.headers(role), **kw)


def write_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        wav.writeframes(frames)
    return path


@asynccontextmanager
async def serving_api(url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on the database at `url` (migrated here), with a user per role: root (admin),
    sue (supervisor), anna and boris (agents; boris's token is "other_agent")."""
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, recordings_dir=tmp_path / "recordings",
                        spool_dir=tmp_path / "spool", ami_port=free_port(), agi_port=0)
    service = Service(settings)
    tokens = {}
    async with service.sessions() as session:
        for username, role, agent, interface in [
            ("root", "admin", None, None), ("sue", "supervisor", None, None),
            ("anna", "agent", "Anna", "Local/2001@cc-test-agent/n"),
            ("boris", "agent", "Boris", "Local/2002@cc-test-agent/n"),
        ]:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface, password="correct horse")
            tokens[role if username != "boris" else "other_agent"] = await create_token(
                session, user)
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(service=service))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(service, client, tokens)
    finally:
        service.workers.shutdown()
        await service.engine.dispose()
        await service.telephony_engine.dispose()


_databases = itertools.count()


async def database_url(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> str:
    """For a fixture parametrized ["sqlite", "postgresql"]: a fresh database of either kind."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/api.db"
    return await asyncio.to_thread(request.getfixturevalue("postgres").create_database,
                                   f"{prefix}_{next(_databases)}_{id(tmp_path)}")


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[Api]:
    async with serving_api(f"sqlite+aiosqlite:///{tmp_path}/api.db", tmp_path) as served:
        yield served


@pytest.fixture
async def customer(api) -> dict:
    """A contact with two numbers, personal data, and two recorded calls (Anna's, Boris's)."""
    async with api.service.sessions() as session:
        contact = Contact(name="Иван Петров", email="ivan@example.com", notes="prefers mornings",
                          vip=True, language="ru",
                          fields={"passport": "4509 123456", "address": "Moscow, Tverskaya 1",
                                  "company": "Roga i Kopyta", "contract": "C-17"},
                          numbers=[ContactNumber(number="+79161234567", label="mobile"),
                                   ContactNumber(number="+74951234567", label="work")])
        session.add(contact)
        recordings = {}
        for agent, linkedid, minute in (("Anna", "call-anna", 1), ("Boris", "call-boris", 2)):
            when = datetime(2026, 11, 20, 10, minute, tzinfo=UTC)
            session.add(Call(linkedid=linkedid, direction="inbound", caller="+79161234567",
                             called="+74950000000", started_at=when, queue="support",
                             answered_at=when, ended_at=when, agent=agent, wait_seconds=3,
                             talk_seconds=60, outcome="answered", end_inferred=False))
            path = write_wav(api.service.settings.recordings_dir / "2026/11/20" / f"{linkedid}.wav")
            recording = Recording(linkedid=linkedid, path=str(path), format="wav",
                                  size_bytes=path.stat().st_size, duration_seconds=2.0,
                                  created_at=when)
            session.add(recording)
            recordings[agent] = recording
        await session.commit()
        return {"contact_id": contact.id, "anna_recording": recordings["Anna"].id,
                "boris_recording": recordings["Boris"].id,
                "path": Path(recordings["Anna"].path)}


@pytest.fixture
async def site(api):
    """The app over real HTTP on a free port, for a browser (the console pages' tests)."""
    async with serving(create_app(service=api.service)) as address:
        yield f"http://{address}"


@pytest.fixture
async def browser():
    """Debian's Chromium through Playwright."""
    async with chromium() as browser:
        yield browser
