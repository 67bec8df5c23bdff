"""The real parts tests run against: a throwaway PostgreSQL cluster and the local Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from callcenter.service import Service

ROOT = Path(__file__).resolve().parent.parent
ASTERISK_SCRIPT = ROOT / "scripts" / "asterisk.sh"
ASTERISK_ROOT = Path(os.environ.get("ASTERISK_ROOT", "/var/cache/callcenter/asterisk-sid"))


def _pg_bin() -> Path:
    if "PG_BIN" in os.environ:
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


def unavailable_reason() -> str | None:
    """Why this machine cannot run the rig, or None when it can."""
    if platform.system() != "Linux":
        return "the real Asterisk/PostgreSQL rig needs Linux"
    if os.geteuid() != 0:
        return "the real Asterisk/PostgreSQL rig needs root (chroot, mount)"
    for tool in ("chroot", "mount"):
        if shutil.which(tool) is None:
            return f"the rig needs {tool}"
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """A cluster of our own, owned by the postgres user (initdb refuses root)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.user = "postgres"

    def _as_owner(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *cmd] if os.geteuid() == 0 else list(cmd)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, self.user)
        subprocess.run(self._as_owner(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                                      "-U", "callcenter", "-E", "UTF8", "--no-sync"),
                       check=True, capture_output=True)
        self.pg_ctl("start", "-w", "-l", str(self.base / "log"), "-o", self.options)
        subprocess.run(self._as_owner(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p",
                                      str(self.port), "-U", "callcenter", "callcenter"),
                       check=True, capture_output=True)

    @property
    def options(self) -> str:
        return f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(self._as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args),
                       check=True, capture_output=True)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast", "-w")

    @property
    def url(self) -> str:
        return self.database_url("callcenter")

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://callcenter@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Another database in the cluster (a second service's own); returns its URL."""
        subprocess.run(self._as_owner(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p",
                                      str(self.port), "-U", "callcenter", name),
                       check=True, capture_output=True)
        return self.database_url(name)

    def start_again(self) -> None:
        self.pg_ctl("start", "-w", "-l", str(self.base / "log"), "-o", self.options)


class Asterisk:
    def __init__(self, recordings: Path) -> None:
        self.recordings = recordings
        self.root = ASTERISK_ROOT
        self.env = {**os.environ, "ASTERISK_ROOT": str(self.root),
                    "ASTERISK_EXTRA_CONF": str(ROOT / "tests" / "asterisk"),
                    "CALLCENTER_RECORDINGS_DIR": str(recordings)}

    def _script(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run([str(ASTERISK_SCRIPT), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"asterisk.sh {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def up(self) -> None:
        self._script("up")

    def down(self) -> None:
        self._script("down", timeout=60)

    def rx(self, command: str) -> str:
        return self._script("rx", command, timeout=30)

    def running(self) -> bool:
        try:
            self.rx("core show version")
            return True
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def restart_now(self) -> None:
        """`core restart now`: every call dropped, Asterisk back on its own."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.rx("core restart now")
        time.sleep(1)  # the old process is going away
        if wait_until(self.running, timeout=60) is None:
            raise RuntimeError("Asterisk did not come back after core restart now")
        self.rx("core waitfullybooted")

    @property
    def _messages_log(self) -> Path:
        return self.root / "var/log/asterisk/messages.log"

    def log_mark(self) -> int:
        """Where messages.log ends now; played(since=...) reads only what follows."""
        return self._messages_log.stat().st_size if self._messages_log.exists() else 0

    def played(self, channel: str, since: int = 0) -> list[tuple[str, str]]:
        """(sound file, language) pairs Asterisk's log says it played to a channel.

        Channel names repeat after Asterisk restarts: `since` (a log_mark() taken before the
        call) leaves out an earlier namesake's lines."""
        with self._messages_log.open("rb") as log:
            size = log.seek(0, 2)
            log.seek(since if since <= size else 0)  # smaller: rotated since the mark
            text = log.read().decode(errors="replace")
        found = []
        for line in text.splitlines():
            if f"<{channel}>" in line and "Playing '" in line:
                sound = line.split("Playing '", 1)[1].split("'", 1)[0].rsplit(".", 1)[0]
                language = line.rsplit("(language '", 1)[-1].split("'", 1)[0]
                found.append((sound, language))
        return found

    @property
    def cel_path(self) -> Path:
        return self.root / "var/log/asterisk/cel-custom/callcenter-cel.jsonl"

    @property
    def queue_log_path(self) -> Path:
        return self.root / "var/log/asterisk/queue_log"

    def queue_log(self) -> list[list[str]]:
        """Asterisk's own record of queue calls, to check ours against."""
        path = self.root / "var/log/asterisk/queue_log"
        if not path.exists():
            return []
        return [line.split("|") for line in path.read_text(errors="replace").splitlines()]


def write_test_ivr(directory: Path) -> Path:
    """The test menus (tests/asterisk/ivr.toml), "closed" on holiday today in their timezone,
    and tomorrow too: a test session may run past midnight in Moscow."""
    today = datetime.now(ZoneInfo("Europe/Moscow")).date()
    days = ", ".join(f'"{day.isoformat()}"' for day in (today, today + timedelta(days=1)))
    path = directory / "ivr.toml"
    path.write_text((ROOT / "tests" / "asterisk" / "ivr.toml").read_text()
                    .replace('"{today}"', days))
    return path


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


async def scratch_service(**settings: object) -> Service:
    """A started service on a scratch SQLite database beside the local Asterisk, with the test
    IVR: for the scripts that record traces. The caller stops it."""
    from callcenter.migrate import upgrade
    from callcenter.service import Service
    from callcenter.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="callcenter-scratch-"))
    recordings = work / "recordings"
    recordings.mkdir()
    recordings.chmod(0o777)
    await asyncio.to_thread(Asterisk(recordings).up)
    url = f"sqlite+aiosqlite:///{work}/scratch.db"
    await asyncio.to_thread(upgrade, url)
    service = Service(Settings(database_url=url, recordings_dir=recordings,
                               spool_dir=work / "spool", ivr_file=write_test_ivr(work),
                               **settings))
    await service.start()
    await asyncio.wait_for(service.ami.client.connected.wait(), 30)
    return service


@asynccontextmanager
async def serving(app: object) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a free loopback port (for WebSockets and streaming,
    which an in-process transport would buffer); yields "127.0.0.1:PORT"."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,  # type: ignore[arg-type]
                                           lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
