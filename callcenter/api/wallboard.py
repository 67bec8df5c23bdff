"""The live queue picture pushed to supervisors (the console's wallboard), as GET /queues
shows it, the moment AMI events change it."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, status

from callcenter.api.auth import LEVEL
from callcenter.api.sockets import guarded
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
    async with guarded(websocket, service, payload, watcher.closed):
        await service.queue_feed.serve(watcher)  # returns when the browser goes
