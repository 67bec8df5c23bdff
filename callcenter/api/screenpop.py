"""Screen pops: on request, and pushed on a WebSocket the moment the agent's phone rings."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, WebSocket, status
from fastapi.responses import JSONResponse

from callcenter.api.auth import Agent, Principal, client_ip
from callcenter.api.deps import ServiceDep
from callcenter.api.fields import PhoneInput
from callcenter.api.sockets import guarded
from callcenter.calls.pops import Subscriber
from callcenter.contacts.access import CardNotAllowed
from callcenter.contacts.screenpop import DatabaseUnavailable, Reader, read_pop
from callcenter.users.service import user_for_signed

router = APIRouter(tags=["screen pop"])


@router.get("/screenpop", response_class=JSONResponse,
            responses={200: {"description": "`number`, `new`, `contact` (the card as the role "
                                            "may see it), `last_calls`, `open_callbacks`"},
                       404: {"description": "an agent not on a call with this number (now or "
                                            "within agent_card_window_hours)"},
                       503: {"description": "the database is not reachable now"}})
async def screenpop(number: PhoneInput, principal: Agent, service: ServiceDep,
                    request: Request) -> JSONResponse:
    """The card for a number however it is written (+7 916 123-45-67, 89161234567, 0049...).
    An unknown number gives an empty card marked new. Agents: only for numbers they are or
    recently were on a call with; each card they read is audited."""
    settings = service.settings
    reader = Reader(username=principal.username, agent_name=principal.agent_name,
                    live_numbers=service.pops.numbers_on_call(principal.interface)
                    if principal.is_agent else (),
                    window=timedelta(hours=settings.agent_card_window_hours),
                    client=client_ip(request), is_agent=principal.is_agent)
    try:
        if service.pop_reader is not None:  # PostgreSQL: one statement
            data = await service.pop_reader.read(number, reader)
        else:
            data = await read_pop(service.sessions, number, settings.default_region, reader)
    except CardNotAllowed:
        raise HTTPException(404, "no card for you: agents see the cards of numbers they "
                                 "are or recently were on a call with") from None
    except DatabaseUnavailable:
        raise HTTPException(503, "the database is not reachable now",
                            headers={"Retry-After": "1"}) from None
    # plain JSON: the pop is built of JSON types already, so no second encoding pass
    return JSONResponse(data.for_viewer(principal.role, principal.agent_name))


@router.websocket("/ws/agent")
async def agent_socket(websocket: WebSocket, ticket: str | None = None) -> None:
    """Authenticated by a single-use ticket from POST /auth/ws-ticket (browsers cannot set
    headers on a WebSocket, and a token in a URL ends up in logs). Closed (1008) when the
    user is deactivated or their tokens revoked, within ws_recheck_seconds."""
    service = websocket.app.state.service
    payload = service.ws_tickets.redeem(ticket) if ticket else None
    async with service.sessions() as db:
        user = await user_for_signed(db, payload)
    if user is None or not user.interface:
        reason = ("pass ?ticket= from POST /auth/ws-ticket, never a token"
                  if "token" in websocket.query_params else
                  "invalid, used or expired ticket, or no agent interface")
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
        return
    principal = Principal.of(user)
    await websocket.accept()
    subscriber = Subscriber(interface=user.interface, agent_name=principal.agent_name,
                            role=principal.role, send=websocket.send_json,
                            username=principal.username)
    await websocket.send_json({"type": "hello", "agent": principal.agent_name,
                               "interface": principal.interface})
    async with guarded(websocket, service, payload, subscriber.closed):
        await service.pops.serve(subscriber)  # returns when the browser goes or falls behind
