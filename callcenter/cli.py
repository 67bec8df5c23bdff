"""The callcenter command: run the service, migrate, manage users, import contacts, purge,
replay records the database refused."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pydantic import ValidationError

from callcenter.contacts.importer import Report
from callcenter.logs import setup_logging
from callcenter.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from callcenter.users.models import User

log = logging.getLogger("callcenter")


class CliError(Exception):
    """Ends the command with one line on stderr and this exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line naming what is wrong, not the usage block."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)", 2)


def main(argv: list[str] | None = None) -> int:
    """One clear line on stderr and a non-zero status for anything that goes wrong."""
    try:
        return _main(argv)
    except CliError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("callcenter: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line; the traceback only at DEBUG
        log.debug("unexpected error", exc_info=True)
        print(f"callcenter: unexpected error: {type(exc).__name__}: {_first_line(exc)} "
              "(CALLCENTER_LOG_LEVEL=DEBUG shows where)", file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise CliError(f"bad setting {field} (CALLCENTER_{field.upper()}): {error['msg']}",
                       2) from None
    setup_logging(settings.log_level)
    with _database_errors(settings.database_url):
        if args.command == "db":
            from callcenter.migrate import upgrade

            upgrade(settings.database_url)
            log.info("database schema is up to date")
            return 0
        if args.command == "run":
            return _run(settings)
        handler = (USER_ACTIONS[args.action] if args.command == "user" else
                   {"contacts": _contacts_import, "recordings": _purge,
                    "projects": _project_import,
                    "spool": _spool_replay, "transcripts": _transcripts_backfill}[args.command])
        return asyncio.run(handler(settings, args))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="callcenter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run FastAGI, the AMI listener and the HTTP API")
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply all migrations")

    user = sub.add_parser("user", help="API users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user and print an API token (shown once)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["agent", "supervisor", "admin"])
    add.add_argument("--password", action="store_true", help="ask for a password (web login)")
    add.add_argument("--agent-name", help="queue member name (agents)")
    add.add_argument("--interface", help="Asterisk interface, e.g. PJSIP/1001 (agents)")
    add.add_argument("--outbound-callerid", help="caller ID customers see on click-to-call")
    user.add_parser("list", help="list users: role, agent, interface, active")
    for action, text in (("deactivate", "refuse the user's tokens and close their sockets"),
                         ("activate", "let a deactivated user back in")):
        user.add_parser(action, help=text).add_argument("username")
    password = user.add_parser("password", help="reset a password (ends login sessions)")
    password.add_argument("username")
    password.add_argument("--stdin", action="store_true",
                          help="read the new password from standard input (scripts)")
    user.add_parser("revoke-tokens", help="delete API tokens, end login sessions and tickets"
                    ).add_argument("username")

    contacts = sub.add_parser("contacts", help="contacts").add_subparsers(dest="action",
                                                                         required=True)
    imp = contacts.add_parser("import", help="import a .csv or .xlsx file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--region", help="country for numbers without +, e.g. RU")
    imp.add_argument("--merge", action="store_true", help="merge duplicates (default: skip)")
    imp.add_argument("--strict", action="store_true", help="any bad row: import nothing")

    projects = sub.add_parser("projects", help="outbound call projects").add_subparsers(
        dest="action", required=True)
    pimp = projects.add_parser("import", help="import a .csv or .xlsx file into a project's "
                                              "list (duplicates by phone and e-mail)")
    pimp.add_argument("project", type=int, help="the project's id")
    pimp.add_argument("file", type=Path)
    pimp.add_argument("--region", help="country for numbers without +, e.g. RU")
    pimp.add_argument("--merge", action="store_true", help="merge duplicates (default: skip)")
    pimp.add_argument("--mapping", help='JSON {"name": "ФИО", "phones": "Телефон", ...}')

    recordings = sub.add_parser("recordings", help="recordings").add_subparsers(
        dest="action", required=True)
    recordings.add_parser("purge", help="delete recordings past their retention")

    transcripts = sub.add_parser("transcripts", help="speech analytics").add_subparsers(
        dest="action", required=True)
    backfill = transcripts.add_parser("backfill", help="transcribe recordings that have no "
                                      "transcript yet (and evaluate the QA rules on them)")
    backfill.add_argument("--retry-failed", action="store_true",
                          help="also those the engine failed on before")

    spool = sub.add_parser("spool", help="records kept on disk").add_subparsers(
        dest="action", required=True)
    spool.add_parser("replay", help="write the records the database refused "
                                    "(<spool_dir>/unwritten-records.jsonl) again")
    return parser


@contextlib.contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """Database failures as one line that names the (password-less) URL and what to do."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import (
        ArgumentError,
        DBAPIError,
        InterfaceError,
        NoSuchModuleError,
        OperationalError,
    )

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise CliError(f"bad database URL (CALLCENTER_DATABASE_URL): {url.split('@')[-1]!r} "
                       "is not dialect+driver://user@host/database", 2) from None
    try:
        yield
    except (ArgumentError, NoSuchModuleError) as exc:
        raise CliError(f"bad database URL {shown}: {_first_line(exc)}", 2) from None
    except DBAPIError as exc:
        reason = _first_line(exc.orig or exc)
        if "no such table" in reason or "does not exist" in reason:
            raise CliError(f"the database at {shown} has no schema yet: run "
                           f"'callcenter db upgrade' ({reason})") from None
        if isinstance(exc, OperationalError | InterfaceError):
            raise CliError(f"cannot reach the database at {shown}: {reason}") from None
        raise CliError(f"database error at {shown}: {reason}") from None
    except (OSError, TimeoutError) as exc:
        raise CliError(f"cannot reach the database at {shown}: "
                       f"{_first_line(exc) or type(exc).__name__}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else ""


def _run(settings: Settings) -> int:
    import uvicorn

    from callcenter.api.app import create_app

    # Both ports are bound here, before anything starts: a busy or forbidden port is one
    # line, not a traceback from inside the server's start-up.
    http = _listen("HTTP", settings.http_host, settings.http_port)
    agi = _listen("FastAGI", settings.agi_host, settings.agi_port)
    app = create_app(settings)
    app.state.service.agi.sock = agi
    # uvicorn handles SIGTERM/SIGINT: the lifespan then stops AMI and FastAGI cleanly.
    config = uvicorn.Config(app, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[http])
    return 0


def _listen(what: str, host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CliError(f"cannot listen for {what} on {host}:{port}: {reason}", 1) from None


@contextlib.asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    from callcenter.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from callcenter.users.service import create_token, create_user

    password = _new_password(from_stdin=False) if args.password else None
    try:
        async with _session(settings) as session:
            user = await create_user(session, username=args.username, role=args.role,
                                     password=password, agent_name=args.agent_name,
                                     interface=args.interface,
                                     outbound_callerid=args.outbound_callerid)
            token = await create_token(session, user, name="cli")
            _audit(session, "user.create", user.id, f"role={user.role}")
            await session.commit()
    except ValueError as exc:
        raise CliError(f"cannot add user: {exc}", 2) from None
    except IntegrityError:
        raise CliError(f"cannot add user: username {args.username!r}, agent name or "
                       "interface already taken", 2) from None
    print(f"user {args.username} ({args.role}) created; API token (shown once):\n{token}")
    return 0


async def _user_list(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from callcenter.users.models import User

    async with _session(settings) as session:
        users = list(await session.scalars(select(User).order_by(User.username)))
    rows = [("USERNAME", "ROLE", "AGENT", "INTERFACE", "ACTIVE")] + [
        (u.username, u.role, u.agent_name or "-", u.interface or "-",
         "yes" if u.active else "no") for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


async def _user_set_active(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.users.service import set_active

    active = args.action == "activate"
    async with _session(settings) as session:
        user = await _find(session, args.username)
        set_active(user, active)
        _audit(session, f"user.{args.action}", user.id)
        await session.commit()
    print(f"{args.username} {args.action}d" + ("" if active else
          "; their open WebSockets close within seconds"))
    return 0


async def _user_password(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.users.service import set_password

    password = _new_password(from_stdin=args.stdin)
    async with _session(settings) as session:
        user = await _find(session, args.username)
        await set_password(session, user, password)
        _audit(session, "user.password_reset", user.id)
        await session.commit()
    print(f"password of {args.username} reset; their login sessions ended")
    return 0


async def _user_revoke_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.users.service import revoke_tokens

    async with _session(settings) as session:
        user = await _find(session, args.username)
        deleted = await revoke_tokens(session, user)
        _audit(session, "token.revoke", user.id, f"api_tokens={deleted}")
        await session.commit()
    print(f"{deleted} API token(s) of {args.username} deleted; their login sessions, "
          "tickets and WebSockets end within seconds")
    return 0


USER_ACTIONS = {"add": _user_add, "list": _user_list, "deactivate": _user_set_active,
                "activate": _user_set_active, "password": _user_password,
                "revoke-tokens": _user_revoke_tokens}


async def _find(session: AsyncSession, username: str) -> User:
    from callcenter.users.service import NoSuchUser, find_user

    try:
        return await find_user(session, username)
    except NoSuchUser as exc:
        raise CliError(str(exc), 2) from None


def _audit(session: AsyncSession, action: str, user_id: int, details: str | None = None) -> None:
    """The CLI's changes are audited like the API's, as cli:<the operating-system user>."""
    from callcenter.audit.log import audit

    audit(session, username=f"cli:{_os_user()}", action=action, object_type="user",
          object_id=user_id, details=details)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _new_password(*, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ", 2)
    if len(password) < 8:
        raise CliError("a password needs at least 8 characters", 2)
    return password


async def _contacts_import(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.contacts.importer import ImportFileError, apply, parse_file, spooled
    from callcenter.contacts.lookup import field_rules
    from callcenter.db import create_engine, session_factory
    from callcenter.outbox.staged import release_or_log

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rules = await field_rules(session)
        with tempfile.TemporaryDirectory(prefix="import-") as work:
            try:  # a command has no event loop to keep free: parsed here, in this process
                parsed = parse_file(args.file, args.file.name, None,
                                    args.region or settings.default_region,
                                    Path(work) / "rows", rules)
            except (OSError, ImportFileError) as exc:
                print(f"callcenter: cannot import {args.file}: {exc}", file=sys.stderr)
                return 2
            report = Report(errors=parsed.errors)
            if args.strict and parsed.errors:
                _print_report(report)
                print("nothing imported (--strict)", file=sys.stderr)
                return 1
            async with session_factory(engine)() as session:
                await apply(session, spooled(parsed.spool),
                            on_duplicate="merge" if args.merge else "skip", report=report,
                            progress=lambda done: _progress(done, parsed.rows))
                await session.commit()
            await release_or_log(session_factory(engine))  # its staged contact.changed events
    finally:
        await engine.dispose()
    print(file=sys.stderr)
    _print_report(report)
    return 0 if report.ok else 1


async def _project_import(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from callcenter.contacts.importer import ImportFileError, parse_file, spooled
    from callcenter.contacts.lookup import field_rules
    from callcenter.db import create_engine, session_factory
    from callcenter.projects import service as projects

    try:
        mapping = json.loads(args.mapping) if args.mapping else None
    except json.JSONDecodeError as exc:
        print(f"callcenter: --mapping is not JSON: {exc}", file=sys.stderr)
        return 2
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            try:
                project = await projects.get_project(session, args.project)
            except projects.NotFound:
                print(f"callcenter: no project {args.project}", file=sys.stderr)
                return 2
            rules = await field_rules(session)
            with tempfile.TemporaryDirectory(prefix="import-") as work:
                try:  # no event loop to keep free here: parsed in this process
                    parsed = parse_file(args.file, args.file.name, mapping,
                                        args.region or settings.default_region,
                                        Path(work) / "rows", rules)
                except (OSError, ImportFileError) as exc:
                    print(f"callcenter: cannot import {args.file}: {exc}", file=sys.stderr)
                    return 2
                report = projects.ListReport(errors=parsed.errors)
                await projects.import_rows(
                    session, project, spooled(parsed.spool),
                    on_duplicate="merge" if args.merge else "skip", report=report,
                    now=datetime.now(UTC), progress=lambda done: _progress(done, parsed.rows))
                await session.commit()
    finally:
        await engine.dispose()
    print(file=sys.stderr)
    print(f"added {report.added}, merged {report.merged}, duplicates skipped "
          f"{len(report.skipped_duplicates)}, matching contacts {len(report.matched_contacts)}, "
          f"do-not-call {len(report.dnc)}, bad rows {len(report.errors)}")
    for skipped in report.skipped_duplicates:
        print(f"  line {skipped['line']}: duplicate of entry {skipped['entry_id']}")
    for error in report.errors:
        print(f"  line {error['line']}: {'; '.join(error['errors'])}")  # type: ignore[arg-type]
    return 0 if not report.errors else 1


def _progress(done: int, total: int, width: int = 40) -> None:
    filled = width * done // max(total, 1)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="",
          file=sys.stderr, flush=True)


def _print_report(report: Report) -> None:
    print(f"created {report.created}, merged {report.merged}, "
          f"duplicates skipped {len(report.skipped_duplicates)}, bad rows {len(report.errors)}")
    for error in report.errors:
        print(f"  line {error['line']}: {'; '.join(error['errors'])}")


async def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.db import create_engine, session_factory
    from callcenter.recordings.retention import purge_expired

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            expired = await purge_expired(session, now=datetime.now(UTC),
                                          default_days=settings.retention_days,
                                          days_by_queue=settings.retention_days_by_queue)
    finally:
        await engine.dispose()
    for item in expired:
        print(f"deleted recording {item.recording_id} (call {item.linkedid}, queue {item.queue})")
    print(f"{len(expired)} expired recordings deleted")
    return 0


async def _transcripts_backfill(settings: Settings, args: argparse.Namespace) -> int:
    """Old recordings through the engine the settings name, in its worker processes."""
    from callcenter.db import create_engine, session_factory
    from callcenter.speech.runner import Speech

    speech = Speech(settings, session_factory(engine := create_engine(settings.database_url)))
    try:
        if not speech.configured:
            raise CliError("speech_engine is off: set CALLCENTER_SPEECH_ENGINE (README "
                           "\"Speech analytics\")")
        if not await speech.start():
            raise CliError(f"speech engine unusable: {speech.error}")
        done = await speech.backfill(retry_failed=args.retry_failed)
    finally:
        speech.shutdown()
        await engine.dispose()
    print(f"{done} recordings processed: {speech.transcribed} transcribed, "
          f"{speech.failed} failed")
    return 0 if not speech.failed else 1


async def _spool_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when the dead-letter file is gone (all written, or there was none)."""
    from callcenter.calls.store import RecordWriter
    from callcenter.db import create_engine, session_factory

    dead_letter = settings.spool_dir / "unwritten-records.jsonl"
    if not dead_letter.exists():
        print(f"no dead letters: {dead_letter} does not exist")
        return 0
    engine = create_engine(settings.database_url)
    writer = RecordWriter(engine, session_factory(engine), dead_letter=dead_letter,
                          keep_unanswered_recordings=settings.keep_unanswered_recordings,
                          delete_opted_out=settings.recording_opt_out == "skip",
                          # with a ledger, it has the final word on these calls
                          final=settings.cel_path is None or settings.queue_log_path is None)
    try:
        outcomes = await writer.replay_dead_letters()
    finally:
        await writer.close()
        await engine.dispose()
    for item in outcomes:
        what = "written" if item.error is None else f"still refused: {item.error}"
        print(f"line {item.line}: {item.type} {item.key}: {what}")
    left = sum(item.error is not None for item in outcomes)
    print(f"{len(outcomes) - left} written, {left} left in {dead_letter}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
