"""RSS of the service (uvicorn, SQLite) across rounds of 20 parallel 50 MB downloads.

    python -m bench.memory [rounds]

Prints the resident memory at rest, then after each round; it should stay near the first.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import httpx

from tests.rig import free_port

VENV = Path(sys.executable).parent
PARALLEL, SIZE = 20, 50 * 2**20

_SETUP = """
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from callcenter.db import create_engine, session_factory
from callcenter.recordings.models import Recording
from callcenter.users.service import create_token, create_user

async def main(url, path, size):
    engine = create_engine(url)
    path = Path(path)
    path.parent.mkdir(parents=True)
    with path.open("wb") as file:
        file.write(b"RIFF")
        for _ in range(size // 2**20):
            file.write(bytes(range(256)) * 4096)
    async with session_factory(engine)() as session:
        user = await create_user(session, username="root", role="admin",
                                 password="correct horse")
        session.add(Recording(linkedid="big", path=str(path), format="wav",
                              size_bytes=path.stat().st_size, created_at=datetime.now(UTC)))
        print(await create_token(session, user))
        await session.commit()
    await engine.dispose()
"""


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS")


def prepare(tmp: Path) -> tuple[dict[str, str], str]:
    """A migrated SQLite database with one 50 MB recording and an admin: (env, token)."""
    url = f"sqlite+aiosqlite:///{tmp}/db.sqlite"
    env = dict(os.environ, CALLCENTER_DATABASE_URL=url, CALLCENTER_RECORDINGS_DIR=str(tmp / "rec"),
               CALLCENTER_SPOOL_DIR=str(tmp / "spool"), CALLCENTER_AMI_PORT=str(free_port()),
               CALLCENTER_AGI_PORT="0", CALLCENTER_LOG_LEVEL="ERROR")
    subprocess.run([VENV / "callcenter", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    script = textwrap.dedent(_SETUP) + (
        f"asyncio.run(main({url!r}, {str(tmp / 'rec/2026/01/01/big.wav')!r}, {SIZE}))")
    token = subprocess.run([VENV / "python", "-c", script], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    return env, token


async def measure(port: int, token: str, pid: int, rounds: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        for _ in range(100):
            try:
                await client.get("/health")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)

        async def download() -> int:
            size = 0
            async with client.stream("GET", "/recordings/1",
                                     headers={"Authorization": f"Bearer {token}"}) as got:
                async for chunk in got.aiter_raw():
                    size += len(chunk)
            return size

        print(f"at rest: {rss_mb(pid)} MB")
        for round_ in range(1, rounds + 1):
            sizes = await asyncio.gather(*(download() for _ in range(PARALLEL)))
            assert all(size > SIZE for size in sizes)
            await asyncio.sleep(1)  # what the process gives back, it gives back at once
            print(f"after round {round_} ({PARALLEL} x {SIZE >> 20} MB): {rss_mb(pid)} MB")


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        env, token = prepare(Path(tmp))
        port = free_port()
        server = subprocess.Popen([VENV / "uvicorn", "--factory",
                                   "callcenter.api.app:create_app", "--port", str(port),
                                   "--log-level", "warning"], env=env,
                                  stderr=subprocess.DEVNULL)
        try:
            asyncio.run(measure(port, token, server.pid, rounds))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
