"""Dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.service import Service


async def get_service(request: Request) -> Service:
    """async: FastAPI runs a plain `def` dependency in its thread pool, a thread hand-off on
    every request (a tenth of a screen pop's time)."""
    return request.app.state.service


async def get_db(service: Annotated[Service, Depends(get_service)]) -> AsyncIterator[AsyncSession]:
    async with service.sessions() as session:
        yield session


ServiceDep = Annotated[Service, Depends(get_service)]
DbDep = Annotated[AsyncSession, Depends(get_db)]
