"""Click-to-call: ring the agent's own device first, then dial the customer from it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from callcenter.ami.client import AMIClient
from callcenter.calls.tracker import CallTracker

log = logging.getLogger(__name__)

OUTBOUND_CONTEXT = "callcenter-outbound"


async def click_to_call(ami: AMIClient, tracker: CallTracker, *, agent: str,
                        agent_interface: str, customer_e164: str,
                        outbound_callerid: str | None = None,
                        ring_seconds: int = 30,
                        before_originate: Callable[[str], None] | None = None) -> str:
    """Places the call and returns its id (the Linkedid, preset so it is known at once).

    The agent's phone shows the customer's number; the customer sees outbound_callerid.
    """
    if not customer_e164.startswith("+") or not customer_e164[1:].isdigit():
        raise ValueError("customer number must be E.164")
    call_id = f"c2c-{uuid.uuid4().hex[:16]}"
    tracker.expect_originate(call_id, agent, agent_interface, customer_e164, outbound_callerid)
    if before_originate is not None:
        before_originate(call_id)
    variables = [f"CC_AGENT={agent}"]
    if outbound_callerid:
        variables.append(f"CC_OUTBOUND_CALLERID={outbound_callerid}")
    await ami.action({
        "Action": "Originate",
        "Channel": agent_interface,
        "Context": OUTBOUND_CONTEXT,
        "Exten": customer_e164[1:],
        "Priority": 1,
        "CallerID": f'"{customer_e164}" <{customer_e164}>',
        "Timeout": ring_seconds * 1000,
        "ChannelId": call_id,
        "OtherChannelId": f"{call_id}-2",
        "Variable": variables,
        # explicit: panoramisk 1.4 breaks the connection on an Originate without it
        "Async": "true",
    })
    log.info("click-to-call placed", extra={"call_id": call_id, "agent": agent,
                                            "customer": customer_e164})
    return call_id
