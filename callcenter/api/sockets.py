"""What every pushed WebSocket (agent pops, supervisor wallboard) does around its sending:
notice the browser going, and cut the user off once they are deactivated or revoked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import WebSocket, WebSocketDisconnect, status
from sqlalchemy.exc import SQLAlchemyError

from callcenter.service import Service
from callcenter.users.service import user_for_signed

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def guarded(websocket: WebSocket, service: Service, payload: dict[str, object],
                  closed: asyncio.Event) -> AsyncIterator[None]:
    """While the body sends: `closed` is set when the browser goes or the ticket's user is
    deactivated or revoked (checked every ws_recheck_seconds); a revoked user's socket is
    then closed with 1008."""
    receiving = asyncio.ensure_future(_until_disconnect(websocket, closed))
    still_allowed = asyncio.ensure_future(_until_revoked(service, payload, closed))
    try:
        yield
    finally:
        receiving.cancel()
        still_allowed.cancel()
    if still_allowed.done() and not still_allowed.cancelled():
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                                  reason="user deactivated or tokens revoked")


async def _until_disconnect(websocket: WebSocket, closed: asyncio.Event) -> None:
    """Reads (and ignores) what the browser sends, to notice when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message.get("type") == "websocket.disconnect":
                break
    finally:
        closed.set()


async def _until_revoked(service: Service, payload: dict[str, object],
                         closed: asyncio.Event) -> None:
    """Returns (setting `closed`) once the socket's user is deactivated or revoked."""
    while True:
        await asyncio.sleep(service.settings.ws_recheck_seconds)
        try:
            async with service.sessions() as db:
                allowed = await user_for_signed(db, payload) is not None
        except (SQLAlchemyError, OSError) as exc:  # the database is away: keep the feed going
            log.warning("socket recheck failed", extra={"error": repr(exc)})
            continue
        if not allowed:
            closed.set()
            return
