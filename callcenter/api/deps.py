"""Dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.service import Service


def get_service(request: Request) -> Service:
    return request.app.state.service


async def get_db(service: Annotated[Service, Depends(get_service)]) -> AsyncIterator[AsyncSession]:
    async with service.sessions() as session:
        yield session


ServiceDep = Annotated[Service, Depends(get_service)]
DbDep = Annotated[AsyncSession, Depends(get_db)]
