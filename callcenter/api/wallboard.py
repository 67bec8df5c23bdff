"""The live queue picture pushed to supervisors' consoles (/ws/supervisor) and to wall displays
(/ws/wallboard, TV mode), the moment AMI events change it."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, status

from callcenter.api.auth import LEVEL
from callcenter.api.sockets import _until_disconnect, guarded
from callcenter.queues.feed import Watcher
from callcenter.queues.targets import display_for_token
from callcenter.users.service import user_for_signed

router = APIRouter(tags=["queues"])


@router.websocket("/ws/supervisor")
async def supervisor_socket(websocket: WebSocket, ticket: str | None = None) -> None:
    """Authenticated by a single-use ticket from POST /auth/ws-ticket, for supervisors and
    admins. Sends the picture (callcenter/queues/feed.py: queues with their callers, the
    agents that changed since the last message, today's figures when read again) at once, on
    every change, and at least every 5 s."""
    service = websocket.app.state.service
    payload = service.ws_tickets.redeem(ticket) if ticket else None
    async with service.sessions() as db:
        user = await user_for_signed(db, payload)
    if user is None or LEVEL[user.role] < LEVEL["supervisor"]:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                              reason="invalid, used or expired ticket, or not a supervisor")
        return
    await websocket.accept()
    watcher = Watcher(send=websocket.send_text)
    async with guarded(websocket, service, payload, watcher.closed):
        await service.queue_feed.serve(watcher)  # returns when the browser goes


@router.websocket("/ws/wallboard")
async def wallboard_socket(websocket: WebSocket, token: str | None = None,
                           ticket: str | None = None) -> None:
    """TV mode: a display token (POST /admin/displays), or a supervisor's single-use ticket.
    The same pictures as /ws/supervisor without the abandoned calls, callers' numbers and
    names masked as agents see them. A revoked token's socket is closed."""
    service = websocket.app.state.service
    if token:
        async with service.sessions() as db:
            display = await display_for_token(db, token)
        if display is None:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                                  reason="unknown or revoked display token")
            return
        await websocket.accept()
        watcher = Watcher(send=websocket.send_text, kind="display",
                          display_id=display.id)
        receiving = asyncio.ensure_future(_until_disconnect(websocket, watcher.closed))
        try:
            await service.queue_feed.serve(watcher)
        finally:
            receiving.cancel()
        if not receiving.done() or receiving.cancelled():  # revoked, not gone
            with contextlib.suppress(Exception):
                await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                                      reason="display token revoked")
        return
    payload = service.ws_tickets.redeem(ticket) if ticket else None
    async with service.sessions() as db:
        user = await user_for_signed(db, payload)
    if user is None or LEVEL[user.role] < LEVEL["supervisor"]:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                              reason="a display token or a supervisor's ticket is needed")
        return
    await websocket.accept()
    watcher = Watcher(send=websocket.send_text, kind="display")
    async with guarded(websocket, service, payload, watcher.closed):
        await service.queue_feed.serve(watcher)
