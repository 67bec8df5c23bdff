"""The report API, on SQLite and on PostgreSQL: queue calls per interval on the site's clock,
the per-agent table from call records and the agent state history, who may read them, and a
422 naming the field for a period or interval the report cannot take. Then the admin API the
administration pages use: pause reasons, agent interfaces, the audit log's filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from callcenter.agents.models import AgentStateChange
from callcenter.api.app import create_app
from callcenter.calls.models import Call
from callcenter.migrate import upgrade
from callcenter.service import Service
from callcenter.settings import Settings
from callcenter.users.service import create_token, create_user
from tests.api.conftest import Api
from tests.rig import free_port

_databases = iter(range(10**6))


@pytest.fixture(params=["sqlite", "postgresql"])
async def both(request, tmp_path) -> Api:
    """The API (site zone Europe/Moscow, UTC+3) on a fresh database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/reports.db"
    else:
        url = await asyncio.to_thread(request.getfixturevalue("postgres").create_database,
                                      f"reports_{next(_databases)}_{free_port()}")
    await asyncio.to_thread(upgrade, url)
    service = Service(Settings(database_url=url, recordings_dir=tmp_path / "recordings",
                               spool_dir=tmp_path / "spool", ami_port=free_port(), agi_port=0))
    tokens = {}
    async with service.sessions() as session:
        for username, role, agent, interface in [
            ("root", "admin", None, None), ("sue", "supervisor", None, None),
            ("anna", "agent", "Anna", "Local/2001@cc-test-agent/n")]:
            user = await create_user(session, username=username, role=role, agent_name=agent,
                                     interface=interface, password="correct horse")
            tokens[role] = await create_token(session, user)
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(service, client, tokens)
    service.workers.shutdown()
    await service.engine.dispose()
    await service.telephony_engine.dispose()


def utc(hour: int, minute: int = 0, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def day(both) -> Api:
    """A day at the site: queue calls around 10:00 and 11:00 Moscow time, one outbound call,
    one call just after the day; Anna's logins, lunch and break."""
    calls = [  # linkedid, start, queue, outcome, agent, wait, talk
        ("c1", utc(7, 10), "support", "answered", "Anna", 5, 100),
        ("c2", utc(7, 20), "support", "answered", "Anna", 30, 200),
        ("c3", utc(7, 50), "support", "abandoned", None, 40, None),
        ("c4", utc(8, 5), "sales", "answered", "Boris", 10, 60),
        ("c5", utc(8, 30), None, "answered", "Anna", None, 50),
        ("c6", utc(21, 30), "support", "answered", "Anna", 1, 500),  # 00:30 the next day
    ]
    states = [  # queue, state, reason, at
        ("support", "login", None, utc(6)), ("sales", "login", None, utc(6)),
        ("support", "pause", "lunch", utc(7, 30)), ("sales", "pause", "lunch", utc(7, 30)),
        ("support", "unpause", None, utc(8)), ("sales", "unpause", None, utc(8)),
        ("support", "pause", "break", utc(9)), ("support", "unpause", None, utc(9, 15)),
        ("support", "logout", None, utc(10)), ("sales", "logout", None, utc(11)),
    ]
    async with both.service.sessions() as session:
        for linkedid, start, queue, outcome, agent, wait, talk in calls:
            session.add(Call(linkedid=linkedid, direction="outbound" if queue is None
                             else "inbound", caller="+79161234567", called="+74950000000",
                             started_at=start, queue=queue, answered_at=start, ended_at=start,
                             agent=agent, wait_seconds=wait, talk_seconds=talk,
                             outcome=outcome, end_inferred=False))
        for queue, state, reason, at in states:
            session.add(AgentStateChange(agent="Anna", interface="Local/2001@cc-test-agent/n",
                                         queue=queue, state=state, reason=reason, at=at))
        await session.commit()
    return both


MOSCOW_DAY = {"since": "2026-11-19T21:00:00Z", "until": "2026-11-20T21:00:00Z"}


async def test_queue_calls_per_hour_on_the_sites_clock(day):
    response = await day.get("/reports/intervals", "supervisor", params=MOSCOW_DAY)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["time_zone"] == "Europe/Moscow" and report["interval"] == "1h"
    intervals = report["intervals"]
    assert len(intervals) == 24 and intervals[0]["start"].startswith("2026-11-19T21:00:00")
    busy = {i["start"][:16]: i for i in intervals if i["offered"]}
    assert busy == {
        "2026-11-20T07:00": {"start": busy["2026-11-20T07:00"]["start"], "offered": 3,
                             "answered": 2, "abandoned": 1, "answered_within": 1,
                             "service_level": 0.3333},
        "2026-11-20T08:00": {"start": busy["2026-11-20T08:00"]["start"], "offered": 1,
                             "answered": 1, "abandoned": 0, "answered_within": 1,
                             "service_level": 1.0},
    }
    assert all(i["service_level"] is None for i in intervals if not i["offered"])


async def test_one_queue_a_day_interval_and_another_threshold(day):
    response = await day.get("/reports/intervals", "supervisor",
                             params={**MOSCOW_DAY, "interval": "1d", "queue": "support",
                                     "service_level_seconds": 30})
    [whole] = response.json()["intervals"]
    assert whole["start"].startswith("2026-11-19T21:00:00")  # midnight in Moscow
    assert (whole["offered"], whole["answered"], whole["abandoned"],
            whole["answered_within"]) == (3, 2, 1, 2)


async def test_the_agent_table_over_the_day(day):
    response = await day.get("/reports/agents", "supervisor", params=MOSCOW_DAY)
    assert response.status_code == 200, response.text
    anna, boris = response.json()["agents"]
    assert anna == {"agent": "Anna", "calls": 3, "talk_seconds": 350.0, "aht_seconds": 116.7,
                    "paused_seconds": 2700.0, "logged_in_seconds": 18000.0,
                    "occupancy": round(350 / (18000 - 2700), 4),
                    "pauses": [{"reason": "break", "seconds": 900.0},
                               {"reason": "lunch", "seconds": 1800.0}]}
    assert boris == {"agent": "Boris", "calls": 1, "talk_seconds": 60.0, "aht_seconds": 60.0,
                     "paused_seconds": 0.0, "logged_in_seconds": 0.0, "occupancy": None,
                     "pauses": []}


async def test_the_agent_table_counts_only_what_falls_in_the_period(day):
    response = await day.get("/reports/agents", "supervisor",
                             params={"since": "2026-11-20T07:45:00Z",
                                     "until": "2026-11-20T10:30:00Z"})
    [anna, boris] = response.json()["agents"]
    assert (anna["calls"], anna["talk_seconds"]) == (1, 50.0)
    assert anna["logged_in_seconds"] == 9900.0  # 07:45 to 10:30: still in sales after 10:00
    assert anna["pauses"] == [{"reason": "break", "seconds": 900.0},
                              {"reason": "lunch", "seconds": 900.0}]  # from 07:45 on
    assert boris["calls"] == 1


async def test_agents_may_not_read_reports(day):
    for path in ("/reports/intervals", "/reports/agents"):
        assert (await day.get(path, "agent", params=MOSCOW_DAY)).status_code == 403
        assert (await day.get(path, None, params=MOSCOW_DAY)).status_code == 401
        assert (await day.get(path, "admin", params=MOSCOW_DAY)).status_code == 200


async def test_a_period_the_report_cannot_take_is_a_422_naming_the_field(day):
    backwards = await day.get("/reports/agents", "supervisor",
                              params={"since": "2026-11-20T00:00:00Z",
                                      "until": "2026-11-19T00:00:00Z"})
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["query", "until"]
    too_many = await day.get("/reports/intervals", "supervisor",
                             params={"since": "2026-01-01T00:00:00Z",
                                     "until": "2026-12-01T00:00:00Z", "interval": "15m"})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "interval"]
    wrong = await day.get("/reports/intervals", "supervisor", params={"interval": "2h"})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "interval"]


# --- the admin API the administration pages use (both databases) -----------------------

async def test_pause_reasons_come_from_the_settings_until_an_admin_sets_them(both):
    first = (await both.get("/admin/pause-reasons", "admin")).json()
    assert first == {"reasons": both.service.settings.pause_reasons, "configured": False}
    put = await both.client.put("/admin/pause-reasons", headers=both.headers("admin"),
                                json={"reasons": ["coffee", "coaching"]})
    assert put.json() == {"reasons": ["coffee", "coaching"], "configured": True}
    refused = await both.post("/agents/me", "agent", json={"action": "pause", "reason": "lunch"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "reason"]
    twice = await both.client.put("/admin/pause-reasons", headers=both.headers("admin"),
                                  json={"reasons": ["a", "b", "a"]})
    assert twice.status_code == 422 and twice.json()["detail"][0]["loc"] == ["body", "reasons", 2]
    comma = await both.client.put("/admin/pause-reasons", headers=both.headers("admin"),
                                  json={"reasons": ["a,b"]})
    assert comma.status_code == 422  # sent to Asterisk in an AMI header: no commas
    back = await both.client.put("/admin/pause-reasons", headers=both.headers("admin"),
                                 json={"reasons": []})
    assert back.json()["configured"] is False
    for role, status in (("supervisor", 403), ("agent", 403), (None, 401)):
        assert (await both.get("/admin/pause-reasons", role)).status_code == status
    entries = (await both.get("/audit", "supervisor",
                              params={"object_type": "pause_reasons"})).json()
    assert [e["details"] for e in entries] == ["", "coffee,coaching"]


async def test_an_admin_sets_a_users_agent_interface(both):
    users = {u["username"]: u for u in (await both.get("/users", "admin")).json()}
    sue = users["sue"]["id"]
    put = await both.client.put(f"/users/{sue}/agent", headers=both.headers("admin"),
                                json={"agent_name": "Sue", "interface": "PJSIP/1009",
                                      "outbound_callerid": "+74950000001"})
    assert put.status_code == 200, put.text
    assert (put.json()["agent_name"], put.json()["interface"],
            put.json()["outbound_callerid"]) == ("Sue", "PJSIP/1009", "+74950000001")
    me = (await both.get("/auth/me", "supervisor")).json()
    assert me["interface"] == "PJSIP/1009"  # at once: the token cache forgot her
    taken = await both.client.put(f"/users/{users['anna']['id']}/agent",
                                  headers=both.headers("admin"),
                                  json={"agent_name": "Sue", "interface": "PJSIP/1010"})
    assert taken.status_code == 409
    bad = await both.client.put(f"/users/{sue}/agent", headers=both.headers("admin"),
                                json={"interface": "PJSIP/1009,x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "interface"]
    missing = await both.client.put("/users/99999/agent", headers=both.headers("admin"),
                                    json={})
    assert missing.status_code == 404
    refused = await both.client.put(f"/users/{sue}/agent", headers=both.headers("supervisor"),
                                    json={})
    assert refused.status_code == 403
    [entry] = (await both.get("/audit", "admin", params={"action": "user.agent"})).json()
    assert entry["object_id"] == str(sue) and "interface=PJSIP/1009" in entry["details"]


async def test_the_audit_log_between_two_times_and_by_object(both):
    for n in range(3):
        await both.client.put("/admin/pause-reasons", headers=both.headers("admin"),
                              json={"reasons": [f"r{n}"]})
    entries = (await both.get("/audit", "supervisor",
                              params={"object_type": "pause_reasons"})).json()
    assert [e["details"] for e in entries] == ["r2", "r1", "r0"]  # newest first
    middle = entries[1]["at"]
    before = (await both.get("/audit", "supervisor", params={
        "object_type": "pause_reasons", "until": middle})).json()
    assert [e["details"] for e in before] == ["r0"]
    page = (await both.get("/audit", "supervisor", params={
        "object_type": "pause_reasons", "limit": 1, "offset": 1})).json()
    assert [e["details"] for e in page] == ["r1"]
    assert (await both.get("/audit", "agent")).status_code == 403


async def test_the_pages_send_strangers_to_sign_in_and_each_role_where_it_may_go(api):
    pages = ("/call-search", "/reports", "/audit-log", "/administration/users")
    for path in pages:
        response = await api.client.get(path)
        assert (response.status_code, response.headers["location"]) == (
            303, f"/signin?next={path}")
    for username, allowed in (("anna", set()), ("sue", set(pages[:3])), ("root", set(pages))):
        api.client.cookies.clear()
        signed = await api.client.post("/auth/session", json={"username": username,
                                                              "password": "correct horse"})
        assert signed.status_code == 200
        for path in pages:
            page = await api.client.get(path)
            assert page.status_code == (200 if path in allowed else 403), (username, path)
            assert ("forbidden.js" in page.text) == (path not in allowed)
    unknown = await api.client.get("/administration/nothing")
    assert unknown.headers["location"] == "/administration/users"
