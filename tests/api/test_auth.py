"""Auth like a bank's: throttled logins, the same work for unknown users, single-use
WebSocket tickets, sockets closed on deactivation, keys per purpose and rotation."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
import websockets
from itsdangerous import TimestampSigner
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.audit.models import AuditEntry
from callcenter.users import security
from callcenter.users.models import User
from callcenter.users.security import Keys
from callcenter.users.throttle import LoginThrottle
from tests.rig import serving

RIGHT, WRONG = "correct horse", "wrong horse"


def client_from(api, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(service=api.service), client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def service_log(caplog) -> str:
    """Everything the service side logged (the test's own WebSocket client excluded)."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if not r.name.startswith("websockets.client"))


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


async def user_id(api, username: str) -> int:
    async with api.service.sessions() as session:
        return (await session.scalar(select(User).where(User.username == username))).id


# -- throttling ------------------------------------------------------------------------------

async def test_a_username_is_throttled_after_n_failures_from_any_address(api):
    api.service.login_throttle = LoginThrottle("3/minute", "100/minute")
    for n in range(3):
        async with client_from(api, f"10.0.0.{n}") as client:
            assert (await login(client, "anna", WRONG)).status_code == 401
    async with client_from(api, "10.0.0.9") as client:
        throttled = await login(client, "anna", RIGHT)  # even the right password waits
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert "too many login attempts" in throttled.json()["detail"]
        assert (await login(client, "boris", RIGHT)).status_code == 200  # others are not


async def test_an_address_is_throttled_after_n_failures_whatever_the_username(api):
    api.service.login_throttle = LoginThrottle("100/minute", "4/minute;10/hour")
    async with client_from(api, "192.0.2.7") as guesser, client_from(api, "192.0.2.8") as other:
        for name in ("anna", "boris", "nobody", "root"):
            assert (await login(guesser, name, WRONG)).status_code == 401
        throttled = await login(guesser, "sue", RIGHT)
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
        assert (await login(other, "sue", RIGHT)).status_code == 200


async def test_the_back_off_grows_with_the_longer_windows(api):
    api.service.login_throttle = LoginThrottle("2/second;3/hour", "100/minute")
    for _ in range(2):
        assert (await login(api.client, "anna", WRONG)).status_code == 401
    first = await login(api.client, "anna", WRONG)
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 1
    await asyncio.sleep(1.1)  # the one-second window passes; the hourly one does not
    assert (await login(api.client, "anna", WRONG)).status_code == 401
    second = await login(api.client, "anna", WRONG)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 3000


async def test_a_successful_login_clears_the_username_count(api):
    api.service.login_throttle = LoginThrottle("3/minute", "100/minute")
    for password in (WRONG, WRONG, RIGHT, WRONG, WRONG):
        assert (await login(api.client, "anna", password)).status_code in (200, 401)
    assert (await login(api.client, "anna", RIGHT)).status_code == 200


# -- the same work for every username ---------------------------------------------------------

async def test_unknown_inactive_and_known_users_cost_one_hash_each(api, monkeypatch):
    calls: list[str] = []
    real = security._scrypt

    def counting(password: str, salt: bytes) -> bytes:
        calls.append(password)
        return real(password, salt)

    monkeypatch.setattr(security, "_scrypt", counting)
    async with api.service.sessions() as session:
        boris = await session.scalar(select(User).where(User.username == "boris"))
        boris.active = False
        sue = await session.scalar(select(User).where(User.username == "sue"))
        sue.password_hash = None
        await session.commit()
    for username, password in [("nobody", WRONG), ("anna", WRONG), ("boris", RIGHT),
                               ("sue", RIGHT), ("anna", RIGHT)]:
        before = len(calls)
        response = await login(api.client, username, password)
        assert response.status_code == (200 if password == RIGHT and username == "anna"
                                        else 401)
        assert len(calls) - before == 1, username


async def test_hashing_runs_on_its_own_pool_not_the_event_loop(api, monkeypatch):
    import threading

    threads: list[str] = []
    real = security._scrypt
    monkeypatch.setattr(security, "_scrypt", lambda password, salt: (
        threads.append(threading.current_thread().name), real(password, salt))[1])
    await login(api.client, "anna", WRONG)
    assert threads and threads[0].startswith("password-hash")


# -- WebSocket tickets ------------------------------------------------------------------------

async def ticket_for(api, role: str = "agent") -> str:
    response = await api.post("/auth/ws-ticket", role)
    assert response.status_code == 200 and response.json()["expires_in"] == 30
    return response.json()["ticket"]


async def test_a_ticket_opens_the_socket_once(api, caplog):
    ticket = await ticket_for(api)
    with caplog.at_level(logging.INFO):
        async with serving(create_app(service=api.service)) as address:
            async with websockets.connect(f"ws://{address}/ws/agent?ticket={ticket}") as ws:
                hello = json.loads(await ws.recv())
                assert hello == {"type": "hello", "agent": "Anna",
                                 "interface": "Local/2001@cc-test-agent/n"}
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets.connect(f"ws://{address}/ws/agent?ticket={ticket}"):
                    pass
    assert refused.value.response.status_code == 403
    assert "WebSocket /ws/agent?ticket=***" in service_log(caplog)  # uvicorn's line
    assert ticket not in service_log(caplog)


async def test_an_expired_ticket_is_refused(api, monkeypatch):
    ticket = await ticket_for(api)
    now = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now(self) + 31)
    assert api.service.ws_tickets.redeem(ticket) is None


async def test_the_token_in_the_url_is_refused_and_never_logged(api, caplog):
    token = api.tokens["agent"]
    with caplog.at_level(logging.DEBUG):
        async with serving(create_app(service=api.service)) as address:
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets.connect(f"ws://{address}/ws/agent?token={token}"):
                    pass
    assert refused.value.response.status_code == 403
    assert "/ws/agent?token=***" in service_log(caplog)
    assert token not in service_log(caplog)


async def test_a_ticket_is_not_a_login_token_nor_a_recording_link(api):
    ticket = await ticket_for(api)
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer s.{ticket}"})).status_code == 401
    assert api.service.keys.recording.verify(ticket, max_age=60) is None


# -- deactivation and revocation close sockets ------------------------------------------------

@pytest.mark.parametrize("how", ["deactivate", "revoke"])
async def test_the_socket_closes_within_10_s_when_the_user_is_cut_off(api, how):
    ticket = await ticket_for(api)
    anna = await user_id(api, "anna")
    async with serving(create_app(service=api.service)) as address, \
            websockets.connect(f"ws://{address}/ws/agent?ticket={ticket}") as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        if how == "deactivate":
            cut = await api.client.put(f"/users/{anna}/active", json={"active": False},
                                       headers=api.headers("admin"))
        else:
            cut = await api.client.delete(f"/users/{anna}/tokens",
                                          headers=api.headers("admin"))
        assert cut.status_code == 200
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                await ws.recv()
    assert closed.value.rcvd.code == 1008
    assert api.service.pops.connected("Local/2001@cc-test-agent/n") == 0


# -- admin: deactivate, reset password, revoke ------------------------------------------------

async def test_admin_deactivates_and_reactivates_a_user(api):
    anna = await user_id(api, "anna")
    assert (await api.get("/auth/me", "agent")).status_code == 200
    off = await api.client.put(f"/users/{anna}/active", json={"active": False},
                               headers=api.headers("admin"))
    assert off.status_code == 200 and off.json()["active"] is False
    assert (await api.get("/auth/me", "agent")).status_code == 401  # at once, not in 10 s
    assert (await login(api.client, "anna", RIGHT)).status_code == 401
    on = await api.client.put(f"/users/{anna}/active", json={"active": True},
                              headers=api.headers("admin"))
    assert on.status_code == 200
    assert (await api.get("/auth/me", "agent")).status_code == 200


async def test_password_reset_ends_old_login_sessions(api):
    anna = await user_id(api, "anna")
    old = (await login(api.client, "anna", RIGHT)).json()["token"]
    reset = await api.client.put(f"/users/{anna}/password", json={"password": "battery staple"},
                                 headers=api.headers("admin"))
    assert reset.status_code == 204
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer {old}"})).status_code == 401
    assert (await login(api.client, "anna", RIGHT)).status_code == 401
    assert (await login(api.client, "anna", "battery staple")).status_code == 200


async def test_revoking_ends_api_tokens_and_login_tokens(api):
    anna = await user_id(api, "anna")
    session_token = (await login(api.client, "anna", RIGHT)).json()["token"]
    revoked = await api.client.delete(f"/users/{anna}/tokens", headers=api.headers("admin"))
    assert revoked.json() == {"api_tokens_deleted": 1}
    assert (await api.get("/auth/me", "agent")).status_code == 401
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer {session_token}"})).status_code == 401
    assert (await login(api.client, "anna", RIGHT)).status_code == 200  # she may log in anew


async def test_only_admins_manage_users_and_every_change_is_audited(api):
    anna = await user_id(api, "anna")
    for role in ("agent", "supervisor"):
        assert (await api.client.delete(f"/users/{anna}/tokens",
                                        headers=api.headers(role))).status_code == 403
        assert (await api.client.put(f"/users/{anna}/active", json={"active": False},
                                     headers=api.headers(role))).status_code == 403
    await api.client.put(f"/users/{anna}/password", json={"password": "battery staple"},
                         headers=api.headers("admin"))
    await api.client.put(f"/users/{anna}/active", json={"active": False},
                         headers=api.headers("admin"))
    await api.client.delete(f"/users/{anna}/tokens", headers=api.headers("admin"))
    async with api.service.sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.object_id == str(anna)).order_by(AuditEntry.id)))
    assert [(e.username, e.action) for e in entries] == [
        ("root", "user.password_reset"), ("root", "user.deactivate"), ("root", "token.revoke")]
    assert all("battery" not in (e.details or "") for e in entries)


# -- keys -------------------------------------------------------------------------------------

async def test_a_login_token_signed_with_the_old_secret_verifies_after_rotation(api):
    api.service.keys = Keys(b"the old secret")
    token = (await login(api.client, "anna", RIGHT)).json()["token"]
    api.service.keys = Keys(b"the new secret", old=[b"the old secret"])
    api.service.principals.clear()
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer {token}"})).json()["username"] == "anna"
    fresh = (await login(api.client, "anna", RIGHT)).json()["token"]
    assert Keys(b"the new secret").login.verify(fresh.removeprefix("s."), 60) is not None
    assert Keys(b"the old secret").login.verify(fresh.removeprefix("s."), 60) is None
    api.service.keys = Keys(b"the new secret")  # the old secret dropped: its tokens end
    api.service.principals.clear()
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer {token}"})).status_code == 401


def test_each_purpose_has_its_own_key_and_the_forget_hash_is_stable():
    keys = Keys(b"secret")
    login_token = keys.login.sign({"uid": 1, "ep": 0})
    assert keys.login.verify(login_token, 60) == {"uid": 1, "ep": 0}
    assert keys.recording.verify(login_token, 60) is None
    assert keys.ws_ticket.verify(login_token, 60) is None
    # numbers forgotten before this release were hashed with the secret itself
    assert keys.forget == b"secret"
    assert Keys(b"new", old=[b"secret"], forget=b"secret").forget == b"secret"


def test_rotation_is_configured_by_settings(tmp_path, caplog):
    from callcenter.service import _keys
    from callcenter.settings import Settings

    token = Keys(b"the old secret").login.sign({"uid": 1, "ep": 0})
    with caplog.at_level(logging.WARNING):
        rotated = _keys(Settings(secret_key="the new secret", old_secret_keys=["the old secret"],
                                 spool_dir=tmp_path))
    assert rotated.login.verify(token, 60) == {"uid": 1, "ep": 0}
    assert rotated.forget == b"the new secret" and "forget_key is not set" in caplog.text
    pinned = _keys(Settings(secret_key="the new secret", old_secret_keys=["the old secret"],
                            forget_key="the old secret", spool_dir=tmp_path))
    assert pinned.forget == b"the old secret"


@pytest.mark.parametrize("how", ["deactivate", "revoke"])
async def test_the_wallboard_socket_closes_within_10_s_when_the_supervisor_is_cut_off(api, how):
    ticket = await ticket_for(api, "supervisor")
    sue = await user_id(api, "sue")
    async with serving(create_app(service=api.service)) as address, \
            websockets.connect(f"ws://{address}/ws/supervisor?ticket={ticket}") as ws:
        assert json.loads(await ws.recv())["type"] == "queues"
        assert api.service.queue_feed.clients == 1
        if how == "deactivate":
            cut = await api.client.put(f"/users/{sue}/active", json={"active": False},
                                       headers=api.headers("admin"))
        else:
            cut = await api.client.delete(f"/users/{sue}/tokens", headers=api.headers("admin"))
        assert cut.status_code == 200
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:  # pictures (heartbeats) until it is closed
                    await ws.recv()
    assert closed.value.rcvd.code == 1008
    assert api.service.queue_feed.clients == 0
