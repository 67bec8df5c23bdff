"""The live queue picture pushed to supervisors (the console's wallboard), as GET /queues
shows it, the moment AMI events change it."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from callcenter.api.auth import LEVEL
from callcenter.api.screenpop import until_revoked
from callcenter.queues.feed import Watcher
from callcenter.users.service import user_for_signed

router = APIRouter(tags=["queues"])


@router.websocket("/ws/supervisor")
async def supervisor_socket(websocket: WebSocket, ticket: str | None = None) -> None:
    """Authenticated by a single-use ticket from POST /auth/ws-ticket, for supervisors and
    admins. Sends `{"type": "queues", "at": <server epoch seconds>, "asterisk": <bool>,
    "queues": [...GET /queues...]}` at once, on every change, and at least every 5 s."""
    service = websocket.app.state.service
    payload = service.ws_tickets.redeem(ticket) if ticket else None
    async with service.sessions() as db:
        user = await user_for_signed(db, payload)
    if user is None or LEVEL[user.role] < LEVEL["supervisor"]:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                              reason="invalid, used or expired ticket, or not a supervisor")
        return
    await websocket.accept()
    watcher = Watcher(send=websocket.send_json)
    receiving = asyncio.ensure_future(_until_disconnect(websocket, watcher.closed))
    still_allowed = asyncio.ensure_future(until_revoked(service, payload, watcher.closed))
    try:
        await service.queue_feed.serve(watcher)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the browser went while a picture was being sent
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
