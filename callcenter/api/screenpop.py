"""Screen pops: on request, and pushed on a WebSocket the moment the agent's phone rings."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, status
from fastapi.responses import JSONResponse

from callcenter.api.auth import Agent, client_ip, resolve_token
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.calls.pops import Subscriber
from callcenter.contacts.access import CardNotAllowed, audit_card_read, check_agent_may_read
from callcenter.contacts.screenpop import load_pop
from callcenter.phone import to_e164

router = APIRouter(tags=["screen pop"])


@router.get("/screenpop", response_class=JSONResponse,
            responses={200: {"description": "`number`, `new`, `contact` (the card as the role "
                                            "may see it), `last_calls`, `open_callbacks`"},
                       404: {"description": "an agent not on a call with this number (now or "
                                            "within agent_card_window_hours)"}})
async def screenpop(number: str, principal: Agent, db: DbDep, service: ServiceDep,
                    request: Request) -> JSONResponse:
    """The card for a number however it is written (+7 916 123-45-67, 89161234567, 0049...).
    An unknown number gives an empty card marked new. Agents: only for numbers they are or
    recently were on a call with; each card they read is audited."""
    settings = service.settings
    if principal.is_agent:
        e164 = to_e164(number, settings.default_region)
        try:
            await check_agent_may_read(
                db, agent_name=principal.agent_name, numbers=[e164] if e164 else [],
                live_numbers=service.pops.numbers_on_call(principal.interface),
                window=timedelta(hours=settings.agent_card_window_hours))
        except CardNotAllowed:
            raise HTTPException(404, "no card for you: agents see the cards of numbers they "
                                     "are or recently were on a call with") from None
    data = await load_pop(db, number, settings.default_region)
    if principal.is_agent and data.contact is not None:
        audit_card_read(db, username=principal.username, contact_id=data.contact.id,
                        via="screenpop", client=client_ip(request))
        await db.commit()
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
                            role=principal.role, send=websocket.send_json,
                            username=principal.username)
    await websocket.send_json({"type": "hello", "agent": principal.agent_name,
                               "interface": principal.interface})
    receiving = service.pops.watch_disconnect(websocket, subscriber)
    try:
        await service.pops.serve(subscriber)  # returns when the browser goes or falls behind
    finally:
        receiving.cancel()
