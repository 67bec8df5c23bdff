"""Screen pops: on request, and pushed on a WebSocket the moment the agent's phone rings."""

from __future__ import annotations

from fastapi import APIRouter, Query, WebSocket, status
from fastapi.responses import JSONResponse

from callcenter.api.auth import Agent, resolve_token
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.calls.pops import Subscriber
from callcenter.contacts.screenpop import load_pop

router = APIRouter(tags=["screen pop"])


@router.get("/screenpop", response_class=JSONResponse,
            responses={200: {"description": "`number`, `new`, `contact` (the card as the role "
                                            "may see it), `last_calls`, `open_callbacks`"}})
async def screenpop(number: str, principal: Agent, db: DbDep,
                    service: ServiceDep) -> JSONResponse:
    """The card for a number however it is written (+7 916 123-45-67, 89161234567, 0049...).
    An unknown number gives an empty card marked new."""
    data = await load_pop(db, number, service.settings.default_region)
    # plain JSON: the pop is built of JSON types already, so no second encoding pass
    return JSONResponse(data.for_viewer(principal.role, principal.agent_name))


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket, token: str = Query(...)) -> None:
    """Browsers cannot set headers on a WebSocket: the token comes as ?token=."""
    service = websocket.app.state.service
    async with service.sessions() as db:
        principal = await resolve_token(token, service, db)
    if principal is None or not principal.interface:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                              reason="invalid token or no agent interface")
        return
    await websocket.accept()
    subscriber = Subscriber(interface=principal.interface, agent_name=principal.agent_name,
                            role=principal.role, send=websocket.send_json)
    await websocket.send_json({"type": "hello", "agent": principal.agent_name,
                               "interface": principal.interface})
    receiving = service.pops.watch_disconnect(websocket, subscriber)
    try:
        await service.pops.serve(subscriber)  # returns when the browser goes or falls behind
    finally:
        receiving.cancel()
