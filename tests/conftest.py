from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.db import create_engine
from callcenter.migrate import upgrade
from tests.rig import Asterisk, Postgres, unavailable_reason, write_test_ivr

TRACES = Path(__file__).parent / "traces"


def _require_rig() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"integration tests cannot be skipped on CI: {reason}")
    pytest.skip(f"integration tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    _require_rig()
    # not under pytest's tmp dir: that is private to root, and the cluster runs as postgres
    base = Path(tempfile.mkdtemp(prefix="callcenter-pg-"))
    pg = Postgres(base)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def recordings_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recordings")
    path.chmod(0o777)
    return path


@pytest.fixture(scope="session")
def asterisk(recordings_dir: Path) -> Iterator[Asterisk]:
    _require_rig()
    pbx = Asterisk(recordings_dir)
    was_running = pbx.running()
    pbx.up()
    try:
        yield pbx
    finally:
        if not was_running:
            pbx.down()


@pytest.fixture(scope="session")
async def migrated_postgres(postgres: Postgres) -> str:
    from callcenter.migrate import upgrade

    await asyncio.to_thread(upgrade, postgres.url)
    return postgres.url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on each database: a fresh SQLite file, the shared PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/test.db"
        await asyncio.to_thread(upgrade, url)
    else:
        url = request.getfixturevalue("postgres").url
        await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def ivr_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_ivr(tmp_path_factory.mktemp("ivr"))


@pytest.fixture(scope="session")
async def service(migrated_postgres: str, asterisk: Asterisk, recordings_dir: Path,
                  ivr_file: Path) -> AsyncIterator[object]:
    from callcenter.service import Service
    from callcenter.settings import Settings

    settings = Settings(database_url=migrated_postgres, recordings_dir=recordings_dir,
                        ami_ping_interval=2.0, ivr_file=ivr_file,
                        cel_path=asterisk.cel_path, queue_log_path=asterisk.queue_log_path)
    svc = Service(settings)
    await svc.start()
    async with asyncio.timeout(30):
        await svc.ami.client.connected.wait()
    try:
        yield svc
    finally:
        await svc.stop()
