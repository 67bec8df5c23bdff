"""`callcenter run`, `callcenter db upgrade`."""

from __future__ import annotations

import argparse
import logging
import sys

from callcenter.logs import setup_logging
from callcenter.settings import Settings

log = logging.getLogger("callcenter")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="callcenter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run FastAGI, the AMI listener and the HTTP API")
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations")
    args = parser.parse_args(argv)

    settings = Settings()
    setup_logging(settings.log_level)
    if args.command == "db":
        from callcenter.migrate import upgrade

        upgrade(settings.database_url)
        log.info("database schema is up to date")
        return 0
    return _run(settings)


def _run(settings: Settings) -> int:
    import uvicorn

    from callcenter.api.app import create_app

    # uvicorn handles SIGTERM/SIGINT: the lifespan then stops AMI and FastAGI cleanly.
    config = uvicorn.Config(create_app(settings), host=settings.http_host,
                            port=settings.http_port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
