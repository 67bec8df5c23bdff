"""The HTTP face. The lifespan runs the FastAGI server and the AMI listener beside it."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from callcenter import __version__
from callcenter.api import (
    admin,
    agents,
    auth,
    callbacks,
    calls,
    contacts,
    dispositions,
    errors,
    health,
    metrics,
    projects,
    queues,
    recordings,
    reports,
    screenpop,
    scripts,
    speech,
    supervisor,
    wallboard,
    webhooks,
)
from callcenter.console import pages
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.workers import Busy


class HideUrlCredentials(logging.Filter):
    """uvicorn logs every request's URL with its query string, where browsers must put
    credentials (WebSocket tickets, signed recording links, a stray ?token=): their values
    are replaced before any handler sees them."""

    _CREDENTIAL = re.compile(r"\b(token|ticket|sig)=[^&\s\"']*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._CREDENTIAL.sub(r"\1=***", arg) if isinstance(arg, str)
                                else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = self._CREDENTIAL.sub(r"\1=***", record.msg)
        return True


def _hide_url_credentials() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideUrlCredentials) for f in logger.filters):
            logger.addFilter(HideUrlCredentials())


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """With a service given, its lifecycle is the caller's (tests); otherwise the app's."""
    owned = service is None
    _hide_url_credentials()
    service = service or Service(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if owned:
            await service.start()
        try:
            yield
        finally:
            if owned:
                await service.stop()

    app = FastAPI(title="callcenter", version=__version__, lifespan=lifespan)
    app.state.service = service
    app.add_exception_handler(Busy, _busy)
    app.add_middleware(metrics.HttpLatency, histogram=service.metrics.http_seconds)
    routers = [module.router for module in (
        health,
        metrics,
        auth,
        calls,
        screenpop,
        contacts,
        recordings,
        agents,
        queues,
        callbacks,
        admin,
        supervisor,
        wallboard,
        projects,
        scripts,
        dispositions,
        reports,
        speech,
        webhooks,
    )]
    errors.install(app, routers)
    for router in routers:
        app.include_router(router)
    app.include_router(pages.router)  # the browser console: HTML, not in the OpenAPI document
    app.mount("/static", pages.static, name="static")
    return app


async def _busy(_request: Request, exc: Exception) -> JSONResponse:
    """Bounded work (imports, conversions) beyond its bound: come back later, not a 500."""
    assert isinstance(exc, Busy)
    return JSONResponse({"detail": str(exc)}, status_code=503,
                        headers={"Retry-After": str(exc.retry_after)})
