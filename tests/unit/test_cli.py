"""The CLI explains itself: one line on stderr and a non-zero status, never a traceback; and it
manages users as the API does (list, deactivate, reset a password, revoke tokens)."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import select

from callcenter import cli
from callcenter.audit.models import AuditEntry
from callcenter.db import create_engine, session_factory
from callcenter.migrate import upgrade
from callcenter.users.models import ApiToken, User
from callcenter.users.security import verify_password
from callcenter.users.service import create_token, create_user
from tests.rig import free_port


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.run([sys.executable, "-m", "callcenter", *args], capture_output=True,
                          text=True, timeout=60, env={**environ, **env}, check=False)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("callcenter: ")
    return lines[0]


def test_an_unreachable_database_is_one_line_without_its_password():
    url = f"postgresql+asyncpg://cc:hunter2secret@127.0.0.1:{free_port()}/cc"
    line = one_line(run_cli("user", "list", CALLCENTER_DATABASE_URL=url))
    assert "cannot reach the database at postgresql+asyncpg://cc:***@127.0.0.1" in line
    assert "hunter2secret" not in line


@pytest.mark.parametrize(("url", "expected"), [
    ("nonsense", "bad database URL (CALLCENTER_DATABASE_URL)"),
    ("mysql+nodriver://u:pw@host/db", "bad database URL mysql+nodriver://u:***@host/db"),
])
def test_a_bad_database_url_is_one_line(url, expected):
    result = run_cli("user", "list", CALLCENTER_DATABASE_URL=url)
    assert expected in one_line(result) and result.returncode == 2


def test_a_database_without_schema_says_what_to_run(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    assert "run 'callcenter db upgrade'" in one_line(
        run_cli("user", "list", CALLCENTER_DATABASE_URL=url))


def test_a_bad_setting_is_one_line_naming_it():
    line = one_line(run_cli("user", "list", CALLCENTER_AGI_PORT="four"))
    assert "bad setting agi_port (CALLCENTER_AGI_PORT)" in line


@pytest.mark.parametrize(("argv", "expected"), [
    ([], "the following arguments are required: command"),
    (["user", "frobnicate"], "invalid choice: 'frobnicate'"),
    (["user", "add", "x"], "the following arguments are required: --role"),
    (["user", "add", "x", "--role", "king"], "invalid choice: 'king'"),
])
def test_bad_arguments_are_one_line(argv, expected, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("callcenter: ") and expected in err[0]


# -- managing users ---------------------------------------------------------------------------

@pytest.fixture
def database(tmp_path, monkeypatch):
    """A migrated SQLite database with an agent holding an API token."""
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    upgrade(url)
    monkeypatch.setenv("CALLCENTER_DATABASE_URL", url)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)  # leave pytest's logging

    async def seed() -> None:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            anna = await create_user(session, username="anna", role="agent", agent_name="Anna",
                                     interface="PJSIP/1001", password="correct horse")
            await create_token(session, anna)
            await session.commit()
        await engine.dispose()

    asyncio.run(seed())
    return url


def anna_and_audit(url: str) -> tuple[User, int, list[tuple[str, str]]]:
    async def read() -> tuple[User, int, list[tuple[str, str]]]:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            anna = await session.scalar(select(User).where(User.username == "anna"))
            tokens = len(list(await session.scalars(select(ApiToken))))
            audit = [(e.username, e.action) for e in await session.scalars(
                select(AuditEntry).order_by(AuditEntry.id))]
        await engine.dispose()
        return anna, tokens, audit

    return asyncio.run(read())


def test_users_are_listed(database, capsys):
    assert cli.main(["user", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["USERNAME", "ROLE", "AGENT", "INTERFACE", "ACTIVE"]
    assert out[1].split() == ["anna", "agent", "Anna", "PJSIP/1001", "yes"]


def test_deactivate_reset_password_and_revoke_from_the_cli(database, capsys, monkeypatch):
    assert cli.main(["user", "deactivate", "anna"]) == 0
    anna, _, _ = anna_and_audit(database)
    assert anna.active is False

    monkeypatch.setattr(sys, "stdin", io.StringIO("battery staple\n"))
    assert cli.main(["user", "password", "anna", "--stdin"]) == 0
    anna, _, _ = anna_and_audit(database)
    assert asyncio.run(verify_password("battery staple", anna.password_hash))
    assert anna.token_epoch == 1  # login tokens made with the old password are void

    assert cli.main(["user", "revoke-tokens", "anna"]) == 0
    assert "1 API token(s) of anna deleted" in capsys.readouterr().out
    anna, tokens, audit = anna_and_audit(database)
    assert tokens == 0 and anna.token_epoch == 2
    assert [action for _, action in audit] == ["user.deactivate", "user.password_reset",
                                               "token.revoke"]
    assert all(who.startswith("cli:") for who, _ in audit)


def test_an_unknown_user_or_short_password_is_one_line(database, capsys, monkeypatch):
    assert cli.main(["user", "deactivate", "ghost"]) == 2
    assert capsys.readouterr().err.strip() == "callcenter: no user named 'ghost'"
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["user", "password", "anna", "--stdin"]) == 2
    assert capsys.readouterr().err.strip() == (
        "callcenter: a password needs at least 8 characters")


@pytest.mark.parametrize("busy", ["HTTP", "FastAGI"])
def test_run_with_a_busy_port_is_one_line(busy, tmp_path):
    """`callcenter run` when another program holds its HTTP or FastAGI port."""
    http_port, agi_port = free_port(), free_port()
    taken = http_port if busy == "HTTP" else agi_port
    with socket.create_server(("127.0.0.1", taken)):
        result = run_cli("run", CALLCENTER_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cc.db",
                         CALLCENTER_HTTP_HOST="127.0.0.1", CALLCENTER_HTTP_PORT=str(http_port),
                         CALLCENTER_AGI_HOST="127.0.0.1", CALLCENTER_AGI_PORT=str(agi_port),
                         CALLCENTER_SPOOL_DIR=str(tmp_path / "spool"),
                         CALLCENTER_RECORDINGS_DIR=str(tmp_path / "recordings"))
    assert one_line(result) == (f"callcenter: cannot listen for {busy} on "
                                f"127.0.0.1:{taken}: Address already in use")
    assert result.returncode == 1


def test_a_project_list_is_imported_from_the_cli_with_progress_and_report(database, capsys,
                                                                          tmp_path):
    from callcenter.projects.models import Project, ProjectEntry

    async def project() -> int:
        engine = create_engine(database)
        async with session_factory(engine)() as session:
            created = Project(name="Осень", mode="preview")
            session.add(created)
            await session.commit()
        await engine.dispose()
        return created.id

    project_id = asyncio.run(project())
    listing = tmp_path / "list.csv"
    listing.write_text("Клиент,Номер\nИван,+74951234501\nПётр,84951234502\nИван,+74951234501\n"
                       "Никто,12\n", encoding="utf-8")
    code = cli.main(["projects", "import", str(project_id), str(listing),
                     "--mapping", '{"name": "Клиент", "phones": "Номер"}'])
    captured = capsys.readouterr()
    assert code == 1  # a bad row
    assert "] 3/3" in captured.err  # the progress bar over the 3 good rows
    assert captured.out.splitlines()[0].startswith("added 2, merged 0, duplicates skipped 1")
    assert "line 4: duplicate of entry" in captured.out
    assert "line 5: not a phone number: 12" in captured.out

    async def phones() -> list[str]:
        engine = create_engine(database)
        async with session_factory(engine)() as session:
            found = list(await session.scalars(select(ProjectEntry.phone)
                                               .order_by(ProjectEntry.id)))
        await engine.dispose()
        return found

    assert asyncio.run(phones()) == ["+74951234501", "+74951234502"]
    assert cli.main(["projects", "import", "999", str(listing)]) == 2
