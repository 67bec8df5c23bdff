"""The HTTP face. The lifespan runs the FastAGI server and the AMI listener beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from callcenter import __version__
from callcenter.api import (
    admin,
    agents,
    auth,
    callbacks,
    calls,
    contacts,
    health,
    queues,
    recordings,
    screenpop,
)
from callcenter.service import Service
from callcenter.settings import Settings


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """With a service given, its lifecycle is the caller's (tests); otherwise the app's."""
    owned = service is None
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
    for module in (health, auth, calls, screenpop, contacts, recordings, agents, queues,
                   callbacks, admin):
        app.include_router(module.router)
    return app
