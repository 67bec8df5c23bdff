"""Pure parts of the CRM integration: signatures, back-off, safe targets, what a role sees."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.outbox.catalogue import EXAMPLES, view
from callcenter.outbox.deliver import RetryPolicy
from callcenter.outbox.signing import REPLAY_WINDOW, sign, verify
from callcenter.outbox.targets import UnsafeTarget, address_refused, check_target
from callcenter.policy import FieldRule, Kind


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"id":"e1"}'
    header = sign("s3cret", body, now=1_700_000_000)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify("s3cret", header, body, now=1_700_000_010)


@pytest.mark.parametrize("tamper", ["body", "secret", "timestamp", "stale", "garbage"])
def test_a_signature_fails_when_anything_changes(tamper):
    body, now = b'{"id":"e1","data":{}}', 1_700_000_000
    header = sign("s3cret", body, now=now)
    if tamper == "body":
        assert not verify("s3cret", header, body + b" ", now=now)
    elif tamper == "secret":
        assert not verify("other", header, body, now=now)
    elif tamper == "timestamp":  # the timestamp is signed: moving it breaks the HMAC
        assert not verify("s3cret", header.replace("t=1700000000", "t=1700000001"), body,
                          now=now)
    elif tamper == "stale":  # a replay after the window
        assert not verify("s3cret", header, body, now=now + REPLAY_WINDOW + 1)
    else:
        assert not verify("s3cret", "v1=abc", body, now=now)


def test_back_off_doubles_up_to_the_cap_and_gives_up_after_the_window():
    policy = RetryPolicy(base=10, cap=3600, window=24 * 3600, jitter=0.2)
    assert [policy.delay(n, rand=0.5) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert policy.delay(20, rand=0.5) == 3600
    assert policy.delay(1, rand=0.0) == pytest.approx(8)
    assert policy.delay(1, rand=1.0) == pytest.approx(12)
    # the whole schedule: ~ 10+20+...+3600 each hour until 24 h are used up
    first, at, attempts = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), 0
    while True:
        attempts += 1
        at += timedelta(seconds=policy.delay(attempts, rand=0.5))
        if policy.gives_up(first, at):
            break
    assert 28 <= attempts <= 32  # 9 doublings to the cap, then hourly for the rest of a day
    assert (at - first) > timedelta(hours=24)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
                                     "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
                                     "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1"])
def test_addresses_that_are_not_public_are_refused(address):
    assert address_refused(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888"])
def test_public_addresses_pass(address):
    assert address_refused(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook",
                                 "https://10.0.0.5/x", "http://[::1]/", "http://169.254.169.254/",
                                 "ftp://example.com/", "http:///nohost",
                                 "http://user:pw@93.184.216.34/"])
async def test_unsafe_urls_are_refused(url):
    with pytest.raises(UnsafeTarget):
        await check_target(url, allow_private=False)


async def test_an_admin_may_allow_a_private_target():
    await check_target("http://127.0.0.1:8080/hook", allow_private=True)
    await check_target("http://93.184.216.34/hook", allow_private=False)  # a literal: no DNS
    with pytest.raises(UnsafeTarget):  # but never another scheme
        await check_target("file:///etc/passwd", allow_private=True)


def test_agents_get_what_the_policy_lets_them_see():
    call = view("call.ended", EXAMPLES["call.ended"], "agent")
    assert call["caller"] != EXAMPLES["call.ended"]["caller"]
    assert call["caller"].endswith("4567") and "916123" not in call["caller"]
    assert "916123" not in call["caller_raw"]
    assert "trunk" in call["legs"][0]["channel"]
    assert view("call.ended", EXAMPLES["call.ended"], "supervisor") == EXAMPLES["call.ended"]
    contact = view("contact.changed", EXAMPLES["contact.changed"], "agent",
                   {"company": FieldRule(Kind.FREE_TEXT, agent_visible=True)})
    assert contact["email"] is None
    assert contact["notes"] is None  # notes hidden until an admin shows them to agents
    assert contact["fields"] == {"company": "Roga i Kopyta"}
    assert contact["numbers"][0]["number"].endswith("4567")
    assert "916123" not in contact["numbers"][0]["number"]
    hidden = view("contact.changed", EXAMPLES["contact.changed"], "agent", {})
    assert hidden["fields"] == {"company": None}  # undeclared: never to agents
    callback = view("callback.created", EXAMPLES["callback.created"], "agent")
    assert "916123" not in callback["number"]


def test_live_call_events_come_from_agentcalled_and_agentconnect_and_survive_the_spool():
    """From the recorded real AMI stream; spilled to disk and read back unchanged."""
    from callcenter.calls.store import CODEC
    from callcenter.outbox.live import LiveCallEvents
    from tests.unit.trace import messages

    got = []
    events = LiveCallEvents(got.extend, "RU")
    for message in messages("answered"):
        events.on_event(message)
    assert [e.event_type for e in got] == ["call.ringing", "call.answered"]
    ringing, answered = got
    assert (ringing.agent, ringing.queue, ringing.caller) == ("Anna", "support", "+79161234567")
    assert answered.wait_seconds is not None and answered.at >= ringing.at
    assert [CODEC.loads(CODEC.dumps(e)) for e in got] == got
