"""The callcenter command: run the service, migrate, manage users, import contacts, purge,
replay records the database refused."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from callcenter.contacts.importer import Report
from callcenter.logs import setup_logging
from callcenter.settings import Settings

log = logging.getLogger("callcenter")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
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

    contacts = sub.add_parser("contacts", help="contacts").add_subparsers(dest="action",
                                                                         required=True)
    imp = contacts.add_parser("import", help="import a .csv or .xlsx file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--region", help="country for numbers without +, e.g. RU")
    imp.add_argument("--merge", action="store_true", help="merge duplicates (default: skip)")
    imp.add_argument("--strict", action="store_true", help="any bad row: import nothing")

    recordings = sub.add_parser("recordings", help="recordings").add_subparsers(
        dest="action", required=True)
    recordings.add_parser("purge", help="delete recordings past their retention")

    spool = sub.add_parser("spool", help="records kept on disk").add_subparsers(
        dest="action", required=True)
    spool.add_parser("replay", help="write the records the database refused "
                                    "(<spool_dir>/unwritten-records.jsonl) again")

    args = parser.parse_args(argv)
    settings = Settings()
    setup_logging(settings.log_level)
    if args.command == "db":
        from callcenter.migrate import upgrade

        upgrade(settings.database_url)
        log.info("database schema is up to date")
        return 0
    if args.command == "run":
        return _run(settings)
    handlers = {"user": _user_add, "contacts": _contacts_import, "recordings": _purge,
                "spool": _spool_replay}
    return asyncio.run(handlers[args.command](settings, args))


def _run(settings: Settings) -> int:
    import uvicorn

    from callcenter.api.app import create_app

    # uvicorn handles SIGTERM/SIGINT: the lifespan then stops AMI and FastAGI cleanly.
    config = uvicorn.Config(create_app(settings), host=settings.http_host,
                            port=settings.http_port, log_config=None, access_log=False)
    uvicorn.Server(config).run()
    return 0


async def _user_add(settings: Settings, args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from callcenter.db import create_engine, session_factory
    from callcenter.users.service import create_token, create_user

    password = getpass.getpass("password: ") if args.password else None
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            user = await create_user(session, username=args.username, role=args.role,
                                     password=password, agent_name=args.agent_name,
                                     interface=args.interface,
                                     outbound_callerid=args.outbound_callerid)
            token = await create_token(session, user, name="cli")
            await session.commit()
    except (ValueError, IntegrityError) as exc:
        print(f"callcenter: cannot add user: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"user {args.username} ({args.role}) created; API token (shown once):\n{token}")
    return 0


async def _contacts_import(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.contacts.card import rows_within_policy
    from callcenter.contacts.importer import ImportFileError, apply, parse_rows, read_table
    from callcenter.contacts.lookup import field_rules
    from callcenter.db import create_engine, session_factory

    try:
        table = read_table(args.file.read_bytes(), args.file.name)
        rows, errors = parse_rows(table, None, args.region or settings.default_region)
    except (OSError, ImportFileError) as exc:
        print(f"callcenter: cannot import {args.file}: {exc}", file=sys.stderr)
        return 2
    report = Report(errors=errors)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = rows_within_policy(rows, await field_rules(session), report.errors)
            if args.strict and report.errors:
                _print_report(report)
                print("nothing imported (--strict)", file=sys.stderr)
                return 1
            await apply(session, rows, on_duplicate="merge" if args.merge else "skip",
                        report=report, progress=lambda done: _progress(done, len(rows)))
            await session.commit()
    finally:
        await engine.dispose()
    print(file=sys.stderr)
    _print_report(report)
    return 0 if report.ok else 1


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
                          keep_unanswered_recordings=settings.keep_unanswered_recordings)
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
