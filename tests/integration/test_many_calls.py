"""Several callers at once: answered, abandoned, timed out and transferred — exactly one
record each, agreeing with Asterisk's own queue_log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcenter.calls.models import Call
from tests.integration.helpers import (
    login_agent,
    logout_everyone,
    place_inbound_call,
    transfer_when_connected,
    wait_for_call,
)

pytestmark = pytest.mark.integration


def queue_log_by_call(asterisk, linkedids):
    rows = {}
    for row in asterisk.queue_log():
        for linkedid in linkedids:
            if row[1].startswith(linkedid):
                rows.setdefault(linkedid, []).append(row)
    return rows


async def test_mixed_calls_give_exactly_one_correct_record_each(service, asterisk):
    await logout_everyone(service, "support", "sales")
    await login_agent(service, "support", "Anna", "2001")
    await login_agent(service, "support", "Boris", "2002")
    try:
        answered = [await place_inbound_call(service, caller=f"+7916000000{i}", talk=2 + i % 2)
                    for i in range(3)]
        abandoned = [await place_inbound_call(service, caller=f"+7926000000{i}", patience=3,
                                              variables={"CC_QUEUE": "sales"}) for i in range(2)]
        timed_out = [await place_inbound_call(service, caller="+4930123456", patience=30,
                                              variables={"CC_QUEUE": "sales",
                                                         "CC_QUEUE_TIMEOUT": "2"})]
        transferred = [await transfer_when_connected(service, caller="+79360000001",
                                                     target="5000")]
        everything = answered + abandoned + timed_out + transferred
        records = {lid: await wait_for_call(service, lid, timeout=90) for lid in everything}
    finally:
        await logout_everyone(service, "support", "sales")

    async with service.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Call).where(Call.linkedid.in_(everything)))
    assert count == len(everything)

    log = queue_log_by_call(asterisk, everything)
    for lid in answered:
        call = records[lid]
        assert call.outcome == "answered" and call.agent in ("Anna", "Boris")
        complete = next(r for r in log[lid] if r[4] in ("COMPLETECALLER", "COMPLETEAGENT"))
        assert (complete[3], float(complete[5]), float(complete[6])) == (
            call.agent, call.wait_seconds, call.talk_seconds)
    for lid in abandoned:
        call = records[lid]
        assert call.outcome == "abandoned" and call.agent is None
        abandon = next(r for r in log[lid] if r[4] == "ABANDON")
        assert (int(abandon[5]), float(abandon[7])) == (call.abandon_position, call.wait_seconds)
    for lid in timed_out:
        call = records[lid]
        assert call.outcome == "timeout"
        assert any(r[4] == "EXITWITHTIMEOUT" for r in log[lid])
    for lid in transferred:
        call = records[lid]
        assert call.outcome == "transferred" and call.transfer_target == "5000"
        transfer = next(r for r in log[lid] if r[4] == "BLINDTRANSFER")
        assert transfer[3] == call.agent
        assert (float(transfer[7]), float(transfer[8])) == (call.wait_seconds, call.talk_seconds)
