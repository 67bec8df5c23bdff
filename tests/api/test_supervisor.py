"""The supervisor console's API on SQLite and on PostgreSQL: queue targets (admins edit, with
the thresholds checked), today's figures from our own records, abandoned calls one click from
a callback, listen/whisper/barge refusals without Asterisk, display tokens for TV wallboards
(a token reads the wallboard feed and nothing else, masked; revoked, it is cut off), and the
supervisors' feed carrying today's figures."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
import websockets
from sqlalchemy import select

from callcenter.agents.models import AgentStateChange
from callcenter.api.app import create_app
from callcenter.audit.models import AuditEntry
from callcenter.callbacks.models import Callback
from callcenter.calls.models import Call
from callcenter.migrate import upgrade
from callcenter.phone import mask_number
from callcenter.queues.models import QueueEntry
from callcenter.queues.today import since_midnight
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.api.conftest import Api
from tests.rig import free_port, serving

SUPERVISOR_PHONE = "Local/9001@cc-test-supervisor/n"


@pytest.fixture(params=["sqlite", "postgresql"])
async def sup(request, tmp_path) -> Api:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/sup.db"
    else:
        url = await asyncio.to_thread(request.getfixturevalue("postgres").create_database,
                                      f"sup_{uuid.uuid4().hex[:12]}")
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, recordings_dir=tmp_path / "recordings",
                        spool_dir=tmp_path / "spool", ami_port=free_port(), agi_port=0)
    service = Service(settings)
    tokens = {}
    async with service.sessions() as session:
        for username, role, agent, interface in [
            ("root", "admin", None, None), ("sue", "supervisor", None, None),
            ("pat", "supervisor", None, SUPERVISOR_PHONE),
            ("anna", "agent", "Anna", "Local/2001@cc-test-agent/n"),
        ]:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface, password="correct horse")
            tokens[username] = await create_token(session, user)
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(service, client, tokens)
    service.workers.shutdown()
    await service.engine.dispose()
    await service.telephony_engine.dispose()


def as_(api: Api, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[username]}"}


async def seed_day(api: Api) -> datetime:
    """A morning in queue "support": 4 offered (answered after 5 s and 30 s, one abandoned
    after 40 s, one timed out), Anna's two calls (60 s, 120 s) and two missed rings, two
    abandoned calls (the first caller got through later); and yesterday, which must not
    count."""
    since = since_midnight(api.service.settings.time_zone)
    at = lambda s: since + timedelta(seconds=s)  # noqa: E731
    async with api.service.sessions() as session:
        for n, (outcome, wait) in enumerate([("answered", 5), ("answered", 30),
                                             ("abandoned", 40), ("timeout", 60)]):
            session.add(QueueEntry(linkedid=f"q{n}", uniqueid=f"q{n}", queue="support",
                                   entered_at=at(n), outcome=outcome, wait_seconds=wait))
        session.add(QueueEntry(linkedid="old", uniqueid="old", queue="support",
                               entered_at=since - timedelta(hours=1), outcome="abandoned",
                               wait_seconds=1))
        for n, talk in enumerate([60, 120]):
            session.add(Call(linkedid=f"c{n}", direction="inbound", caller=f"+7916000100{n}",
                             started_at=at(n), queue="support", answered_at=at(n + 5),
                             ended_at=at(n + 200), agent="Anna", wait_seconds=5,
                             talk_seconds=talk, outcome="answered"))
        for linkedid, number, s in (("ab-1", "+79160000001", 30), ("ab-2", "+79160000002", 40)):
            session.add(Call(linkedid=linkedid, direction="inbound", caller=number,
                             caller_name="Иван", started_at=at(s), queue="support",
                             wait_seconds=40, outcome="abandoned", abandon_position=1))
        session.add(Callback(number="+79160000001", queue="support", source="abandoned",
                             linkedid="ab-1", requested_at=at(31), status="done",
                             closed_at=at(61), closed_by_linkedid="back-1"))
        session.add(Call(linkedid="back-1", direction="inbound", caller="+79160000001",
                         started_at=at(60), queue="support", answered_at=at(62),
                         agent="Boris", talk_seconds=10, outcome="answered"))
        for s in (10, 20):
            session.add(AgentStateChange(agent="Anna", interface="Local/2001@cc-test-agent/n",
                                         queue="support", state="ring_no_answer", at=at(s)))
        session.add(AgentStateChange(agent="Anna", interface="Local/2001@cc-test-agent/n",
                                     queue="support", state="ring_no_answer",
                                     at=since - timedelta(minutes=5)))
        await session.commit()
    return since


async def audits(api: Api, action: str) -> list[AuditEntry]:
    async with api.service.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_admins_set_a_queues_targets_and_thresholds_checked_and_audited(sup):
    listed = await sup.client.get("/supervisor/targets", headers=as_(sup, "sue"))
    assert listed.status_code == 200 and listed.json() == []  # no queues known yet
    body = {"service_level_seconds": 40, "service_level_target": 90, "waiting_amber": 2,
            "waiting_red": 4, "sound_on_red": False}
    refused = await sup.client.put("/supervisor/targets/support", json=body,
                                   headers=as_(sup, "sue"))
    assert refused.status_code == 403  # supervisors read, admins edit
    saved = await sup.client.put("/supervisor/targets/support", json=body,
                                 headers=as_(sup, "root"))
    assert saved.status_code == 200, saved.text
    assert saved.json()["service_level_seconds"] == 40 and saved.json()["configured"]
    [support] = (await sup.client.get("/supervisor/targets", headers=as_(sup, "sue"))).json()
    assert (support["queue"], support["waiting_red"], support["sound_on_red"],
            support["abandoned_red"]) == ("support", 4, False, 10.0)  # unset: the default
    [entry] = await audits(sup, "queue.targets")
    assert (entry.username, entry.object_id) == ("root", "support")
    assert "service_level_seconds=40" in entry.details
    # amber after red: a 422 naming the field, nothing changed
    wrong = await sup.client.put("/supervisor/targets/support", headers=as_(sup, "root"),
                                 json={"waiting_amber": 9, "waiting_red": 4})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "waiting_amber"]
    wrong = await sup.client.put("/supervisor/targets/support", headers=as_(sup, "root"),
                                 json={"service_level_amber": 50, "service_level_red": 70})
    assert wrong.json()["detail"][0]["loc"] == ["body", "service_level_amber"]
    unknown = await sup.client.put("/supervisor/targets/support", headers=as_(sup, "root"),
                                   json={"colour": "pink"})
    assert unknown.status_code == 422
    assert (await sup.client.get("/supervisor/targets", headers=as_(sup, "sue"))
            ).json()[0]["waiting_red"] == 4
    assert (await sup.client.get("/supervisor/targets", headers=as_(sup, "anna"))
            ).status_code == 403
    # back to the defaults
    assert (await sup.client.delete("/supervisor/targets/support", headers=as_(sup, "root"))
            ).status_code == 204
    assert (await sup.client.delete("/supervisor/targets/support", headers=as_(sup, "root"))
            ).status_code == 404
    assert await audits(sup, "queue.targets_reset")


async def test_todays_figures_come_from_our_own_records(sup):
    since = await seed_day(sup)
    today = await sup.client.get("/supervisor/today", headers=as_(sup, "sue"))
    assert today.status_code == 200, today.text
    data = today.json()
    assert datetime.fromisoformat(data["since"]) == since
    [support] = data["queues"]
    assert support == {"queue": "support", "offered": 4, "answered": 2, "abandoned": 1,
                       "abandoned_percent": 25.0, "service_level": 25.0,  # 1 of 4 within 20 s
                       "asa": 17.5, "aht": 63.3}  # (60 + 120 + 10) / 3
    agents = {a["agent"]: a for a in data["agents"]}
    assert agents["Anna"] == {"agent": "Anna", "calls": 2, "missed": 2, "aht": 90.0}
    assert agents["Boris"]["calls"] == 1 and agents["Boris"]["missed"] == 0
    abandoned = {a["linkedid"]: a for a in data["abandoned"]}
    assert list(abandoned) == ["ab-2", "ab-1"]  # newest first
    assert abandoned["ab-1"]["recovered"] and abandoned["ab-1"]["callback_status"] == "done"
    assert not abandoned["ab-2"]["recovered"] and abandoned["ab-2"]["callback_status"] is None
    assert abandoned["ab-2"]["number"] == "+79160000002"  # supervisors see numbers in full
    # the queue's own service-level seconds decide what "within" means
    await sup.client.put("/supervisor/targets/support", json={"service_level_seconds": 30},
                         headers=as_(sup, "root"))
    [support] = (await sup.client.get("/supervisor/today", headers=as_(sup, "sue"))
                 ).json()["queues"]
    assert support["service_level"] == 50.0
    assert (await sup.client.get("/supervisor/today", headers=as_(sup, "anna"))
            ).status_code == 403


async def test_an_abandoned_call_is_one_click_from_a_callback(sup):
    await seed_day(sup)
    made = await sup.client.post("/supervisor/abandoned/ab-2/callback", headers=as_(sup, "sue"))
    assert made.status_code == 201, made.text
    assert made.json()["created"] and made.json()["status"] == "open"
    again = await sup.client.post("/supervisor/abandoned/ab-2/callback", headers=as_(sup, "sue"))
    assert again.status_code == 200
    assert (again.json()["callback_id"], again.json()["created"]) == (
        made.json()["callback_id"], False)  # one open callback per number
    async with sup.service.sessions() as session:
        callback = await session.get(Callback, made.json()["callback_id"])
        assert (callback.number, callback.linkedid, callback.queue) == (
            "+79160000002", "ab-2", "support")
    listed = {a["linkedid"]: a for a in (await sup.client.get(
        "/supervisor/today", headers=as_(sup, "sue"))).json()["abandoned"]}
    assert listed["ab-2"]["callback_status"] == "open"
    assert len(await audits(sup, "callback.from_abandoned")) == 2
    assert (await sup.client.post("/supervisor/abandoned/c0/callback", headers=as_(sup, "sue"))
            ).status_code == 404  # answered, not abandoned
    assert (await sup.client.post("/supervisor/abandoned/ab-1/callback",
                                  headers=as_(sup, "anna"))).status_code == 403
    assert (await sup.client.post("/supervisor/abandoned/a%20b/callback",
                                  headers=as_(sup, "sue"))).status_code == 422


def connect_anna_to_a_caller(api: Api) -> None:
    for event in (
        {"Event": "QueueMemberAdded", "Queue": "support", "Interface": "Local/2001@cc-test-agent/n",
         "MemberName": "Anna", "Paused": "0"},
        {"Event": "AgentConnect", "Queue": "support", "Interface": "Local/2001@cc-test-agent/n",
         "MemberName": "Anna", "Linkedid": "l1.1", "CallerIDNum": "+79161234567",
         "CallerIDName": "Иван Петров", "DestChannel": "Local/2001@cc-test-agent-00000001;1"},
    ):
        api.service.ami.on_event(event)


async def test_listen_whisper_barge_are_refused_clearly_without_what_they_need(sup):
    spy = "/agents/anna/spy"
    assert (await sup.client.post(spy, json={"mode": "listen"}, headers=as_(sup, "anna"))
            ).status_code == 403
    # sue has no phone of her own to listen on
    no_phone = await sup.client.post(spy, json={"mode": "listen"}, headers=as_(sup, "sue"))
    assert no_phone.status_code == 409 and "no phone" in no_phone.json()["detail"]
    assert (await sup.client.post("/agents/nobody/spy", json={"mode": "listen"},
                                  headers=as_(sup, "pat"))).status_code == 404
    idle = await sup.client.post(spy, json={"mode": "whisper"}, headers=as_(sup, "pat"))
    assert idle.status_code == 409 and "not on a call" in idle.json()["detail"]
    wrong = await sup.client.post(spy, json={"mode": "steal"}, headers=as_(sup, "pat"))
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "mode"]
    connect_anna_to_a_caller(sup)
    # on a call now, but Asterisk is not connected here: 503, and nothing audited
    down = await sup.client.post(spy, json={"mode": "barge"}, headers=as_(sup, "pat"))
    assert down.status_code == 503
    assert await audits(sup, "agent.barge") == []


async def ticket(api: Api, username: str) -> str:
    response = await api.client.post("/auth/ws-ticket", headers=as_(api, username))
    return response.json()["ticket"]


async def test_the_supervisor_feed_carries_todays_figures_targets_and_who_is_who(sup):
    await seed_day(sup)
    connect_anna_to_a_caller(sup)
    await sup.client.put("/supervisor/targets/support", json={"waiting_red": 9},
                         headers=as_(sup, "root"))
    await sup.service.today.refresh()
    async with serving(create_app(service=sup.service)) as address, websockets.connect(
            f"ws://{address}/ws/supervisor?ticket={await ticket(sup, 'sue')}") as ws:
        picture = json.loads(await ws.recv())
    figures = picture["figures"]
    assert figures["today"]["support"]["answered"] == 2
    assert figures["targets"]["support"]["waiting_red"] == 9
    assert figures["at"] <= picture["at"]
    assert list(picture["members"]) == ["Local/2001@cc-test-agent/n"]
    anna = picture["members"]["Local/2001@cc-test-agent/n"]
    assert (anna["username"], anna["today"]["calls"], anna["talking_to"]) == (
        "anna", 2, "+79161234567")
    assert {a["linkedid"] for a in figures["abandoned"]} == {"ab-1", "ab-2"}
    assert figures["pause_reasons"] == sup.service.settings.pause_reasons


async def test_a_display_token_reads_the_wallboard_feed_masked_and_nothing_else(sup):
    await seed_day(sup)
    connect_anna_to_a_caller(sup)
    sup.service.ami.on_event({"Event": "QueueCallerJoin", "Queue": "support", "Uniqueid": "w.1",
                              "Linkedid": "w.1", "CallerIDNum": "+79169876543",
                              "CallerIDName": "Пётр 89161112233"})
    await sup.service.today.refresh()
    assert (await sup.client.post("/admin/displays", json={"name": "Hall TV"},
                                  headers=as_(sup, "sue"))).status_code == 403
    created = await sup.client.post("/admin/displays", json={"name": "Hall TV"},
                                    headers=as_(sup, "root"))
    assert created.status_code == 201, created.text
    token, display_id = created.json()["token"], created.json()["id"]
    assert token.startswith("cd_")
    listed = (await sup.client.get("/admin/displays", headers=as_(sup, "root"))).json()
    assert [d["name"] for d in listed] == ["Hall TV"] and "token" not in listed[0]
    # the token is no API token: it reads nothing else
    for path in ("/queues", "/supervisor/today", "/calls", "/auth/me"):
        assert (await sup.client.get(path, headers={"Authorization": f"Bearer {token}"})
                ).status_code == 401, path
    async with serving(create_app(service=sup.service)) as address:
        async with websockets.connect(f"ws://{address}/ws/wallboard?token={token}") as ws:
            picture = json.loads(await ws.recv())
            [support] = picture["queues"]
            [caller] = support["callers"]
            assert caller["number"] == mask_number("+79169876543")  # as agents see others'
            assert "89161112233" not in caller["name"]
            [anna] = picture["members"].values()
            assert anna["talking_to"] == mask_number("+79161234567") and anna["on_call"] == "yes"
            assert "abandoned" not in picture["figures"]
            assert "pause_reasons" not in picture["figures"]
            assert picture["figures"]["today"]["support"]["abandoned"] == 1
            # revoked: the open screen is cut off, and the token opens nothing again
            assert (await sup.client.delete(f"/admin/displays/{display_id}",
                                            headers=as_(sup, "root"))).status_code == 204
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    while True:
                        await ws.recv()
            assert closed.value.rcvd.code == 1008
        for bad in (token, "cd_guess", ""):
            with pytest.raises(websockets.exceptions.InvalidStatus):
                async with websockets.connect(f"ws://{address}/ws/wallboard?token={bad}"):
                    pass
        # an agent's ticket opens neither feed; a supervisor's opens the masked one
        for path in ("/ws/wallboard", "/ws/supervisor"):
            with pytest.raises(websockets.exceptions.InvalidStatus):
                async with websockets.connect(
                        f"ws://{address}{path}?ticket={await ticket(sup, 'anna')}"):
                    pass
        async with websockets.connect(
                f"ws://{address}/ws/wallboard?ticket={await ticket(sup, 'sue')}") as ws:
            picture = json.loads(await ws.recv())
            assert picture["queues"][0]["callers"][0]["number"].endswith("*6543")
    assert (await sup.client.delete(f"/admin/displays/{display_id + 100}",
                                    headers=as_(sup, "root"))).status_code == 404
    assert [e.action for e in await audits(sup, "display.create")] == ["display.create"]
    assert await audits(sup, "display.revoke")


async def test_a_supervisors_action_on_an_agent_is_refused_without_asterisk_and_not_audited(
        sup):
    response = await sup.client.post("/agents/anna", json={"action": "pause", "reason": "lunch"},
                                     headers=as_(sup, "sue"))
    assert response.status_code == 503
    assert await audits(sup, "agent.pause") == []
