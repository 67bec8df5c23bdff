"""Every endpoint × every role, and no token: the defaults deny."""

from __future__ import annotations

import pytest

LEVEL = {None: 0, "agent": 1, "supervisor": 2, "admin": 3}
ROLES = [None, "agent", "supervisor", "admin"]

# (method, path, least role, request kwargs). Destructive calls name ids that do not exist.
ENDPOINTS = [
    ("GET", "/auth/me", "agent", {}),
    ("GET", "/calls", "agent", {}),
    ("POST", "/calls", "agent", {"json": {"number": "+79161234567"}}),
    ("GET", "/screenpop", "agent", {"params": {"number": "89161234567"}}),
    ("GET", "/contacts", "supervisor", {}),
    ("POST", "/contacts", "supervisor", {"json": {"name": "X", "numbers": ["+79990000000"]}}),
    ("GET", "/contacts/{contact_id}", "agent", {}),
    ("PATCH", "/contacts/{contact_id}", "supervisor", {"json": {"notes": "n"}}),
    ("DELETE", "/contacts/{contact_id}", "admin", {"missing": True}),
    ("POST", "/contacts/import", "supervisor",
     {"files": {"file": ("c.csv", b"name,phone\nA,+79990000001\n", "text/csv")}}),
    ("GET", "/recordings", "agent", {}),
    ("GET", "/recordings/{recording_id}", "agent", {}),
    ("HEAD", "/recordings/{recording_id}", "agent", {}),
    ("POST", "/recordings/{recording_id}/url", "agent", {}),
    ("POST", "/recordings/purge", "supervisor", {}),
    ("GET", "/agents/me", "agent", {}),
    ("POST", "/agents/me", "agent", {"json": {"action": "pause", "reason": "lunch"}}),
    ("POST", "/agents/{username}", "supervisor", {"json": {"action": "unpause"}}),
    ("GET", "/queues", "supervisor", {}),
    ("GET", "/queues/stats", "supervisor", {}),
    ("GET", "/callbacks", "agent", {}),
    ("POST", "/callbacks/{callback_id}/start", "agent", {"missing": True}),
    ("POST", "/users", "admin", {"json": {"username": "new-sup", "role": "supervisor"}}),
    ("GET", "/users", "admin", {}),
    ("POST", "/users/{user_id}/tokens", "admin", {"missing": True}),
    ("GET", "/admin/card-fields", "admin", {}),
    ("PUT", "/admin/card-fields", "admin",
     {"json": {"fields": {"company": {"kind": "free_text", "agent_visible": True}}}}),
    ("DELETE", "/users/{user_id}/tokens", "admin", {"missing": True}),
    ("PUT", "/users/{user_id}/active", "admin", {"json": {"active": False}, "missing": True}),
    ("PUT", "/users/{user_id}/password", "admin",
     {"json": {"password": "a new password"}, "missing": True}),
    ("POST", "/auth/ws-ticket", "agent", {}),
    ("GET", "/audit", "supervisor", {}),
    # dispositions and wrap-up (desk)
    ("GET", "/dispositions", "agent", {"params": {"key": "*"}}),
    ("GET", "/admin/dispositions", "admin", {}),
    ("POST", "/admin/dispositions", "admin",
     {"json": {"scope_key": "support", "code": "sale", "label": "Sale"}}),
    ("PATCH", "/admin/dispositions/{disposition_id}", "admin",
     {"json": {"label": "x"}, "missing": True}),
    ("DELETE", "/admin/dispositions/{disposition_id}", "admin", {"missing": True}),
    ("GET", "/admin/wrapup-policies", "admin", {}),
    ("PUT", "/admin/wrapup-policies/{scope}/{key}", "admin", {"json": {"seconds": 30}}),
    ("GET", "/calls/{linkedid}/wrapup", "agent", {}),
    ("POST", "/calls/{linkedid}/wrapup", "agent", {"json": {"note": "n"}}),
    ("GET", "/agents/me/today", "agent", {}),
    ("PUT", "/contacts/{contact_id}/notes", "agent", {"json": {"notes": "n"}}),
    ("POST", "/contacts/{contact_id}/call", "agent", {"json": {"ending": "4567"}}),
    # supervisor console (sup)
    ("GET", "/supervisor/targets", "supervisor", {}),
    ("PUT", "/supervisor/targets/{queue}", "admin", {"json": {"waiting_red": 9}}),
    ("DELETE", "/supervisor/targets/{queue}", "admin", {}),
    ("GET", "/supervisor/today", "supervisor", {}),
    ("POST", "/supervisor/abandoned/{linkedid}/callback", "supervisor", {"missing": True}),
    ("POST", "/agents/{username}/spy", "supervisor", {"json": {"mode": "listen"}}),
    ("POST", "/admin/displays", "admin", {"json": {"name": "Hall"}}),
    ("GET", "/admin/displays", "admin", {}),
    ("DELETE", "/admin/displays/{display_id}", "admin", {"missing": True}),
    # reports: the report API and the administration pages' operations
    ("GET", "/reports/intervals", "supervisor", {}),
    ("GET", "/reports/agents", "supervisor", {}),
    ("PUT", "/users/{user_id}/agent", "admin", {"json": {}, "missing": True}),
    ("GET", "/admin/pause-reasons", "admin", {}),
    ("PUT", "/admin/pause-reasons", "admin", {"json": {"reasons": ["coffee"]}}),
    # CRM integration (hooks)
    ("GET", "/events", "agent", {}),
    ("GET", "/webhooks", "admin", {}),
    ("POST", "/webhooks", "admin", {"json": {"url": "http://127.0.0.1/hook",
                                             "events": ["call.ended"], "role": "admin"}}),
    ("GET", "/webhooks/catalogue", "admin", {}),
    ("GET", "/webhooks/deliveries", "admin", {}),
    ("GET", "/webhooks/dead-letters", "admin", {}),
    ("POST", "/webhooks/deliveries/{delivery_id}/redeliver", "admin", {"missing": True}),
    ("POST", "/webhooks/{subscription_id}/redeliver-dead", "admin", {"missing": True}),
    ("GET", "/webhooks/{subscription_id}", "admin", {"missing": True}),
    ("PATCH", "/webhooks/{subscription_id}", "admin", {"json": {"active": False},
                                                       "missing": True}),
    ("DELETE", "/webhooks/{subscription_id}", "admin", {"missing": True}),
    # outbound projects (an agent sees only the projects they are in: a missing one is a 404)
    ("POST", "/projects", "supervisor",
     {"json": {"name": "Renewals", "caller_id": "+74950000000"}}),
    ("GET", "/projects", "agent", {}),
    ("GET", "/projects/{project_id}", "agent", {"missing": True}),
    ("PATCH", "/projects/{project_id}", "supervisor", {"json": {"priority": 5}, "missing": True}),
    ("POST", "/projects/dnc", "supervisor", {"json": {"number": "+79990000009"}}),
    ("POST", "/projects/{project_id}/dnc", "supervisor",
     {"json": {"number": "+79990000009"}, "missing": True}),
    ("POST", "/projects/{project_id}/import", "supervisor",
     {"files": {"file": ("l.csv", b"name,phone\nA,+79990000001\n", "text/csv")},
      "missing": True}),
    ("POST", "/projects/{project_id}/entries/from-contacts", "supervisor",
     {"json": {"contact_ids": [1]}, "missing": True}),
    ("GET", "/projects/{project_id}/entries", "supervisor", {"missing": True}),
    ("POST", "/projects/{project_id}/preview/next", "agent", {"missing": True}),
    ("POST", "/projects/{project_id}/preview/{entry_id}/call", "agent", {"missing": True}),
    ("POST", "/projects/{project_id}/preview/{entry_id}/skip", "agent",
     {"json": {"reason": "busy"}, "missing": True}),
    ("POST", "/projects/attempts/{linkedid}/disposition", "agent",
     {"json": {"code": "sale"}, "missing": True}),
    ("GET", "/projects/{project_id}/reports/{report}", "supervisor", {"missing": True}),
    ("POST", "/projects/{project_id}/{action}", "supervisor", {"missing": True}),
    # call scripts
    ("POST", "/scripts", "supervisor",
     {"json": {"name": "Greeting", "steps": [{"id": "hello", "text": "Hello"}]}}),
    ("GET", "/scripts", "supervisor", {}),
    ("GET", "/scripts/{script_id}", "supervisor", {"missing": True}),
    ("POST", "/scripts/{script_id}/versions", "supervisor",
     {"json": {"steps": [{"id": "hello", "text": "Hi"}]}, "missing": True}),
    ("PUT", "/scripts/queues/{queue}", "supervisor", {"json": {"script_id": None}}),
    ("POST", "/scripts/calls/{linkedid}", "agent", {"json": {}}),
    ("GET", "/scripts/calls/{linkedid}", "agent", {}),
    ("POST", "/scripts/calls/{linkedid}/answers", "agent",
     {"json": {"step": "hello", "answer": "yes"}}),
    # speech analytics and QA
    ("GET", "/transcripts/search", "agent", {"params": {"q": "contract"}}),
    ("GET", "/transcripts", "agent", {"params": {"linkedid": "call-anna"}}),
    ("GET", "/transcripts/status", "supervisor", {}),
    ("GET", "/qa/rules", "supervisor", {}),
    ("POST", "/qa/rules", "supervisor",
     {"json": {"kind": "forbidden", "phrase": "no idea", "queue": "support"}}),
    ("DELETE", "/qa/rules/{rule_id}", "supervisor", {"missing": True}),
    ("GET", "/qa/flags", "supervisor", {}),
    ("PUT", "/qa/reviews/{linkedid}", "supervisor", {"json": {"score": 80}}),
    ("GET", "/qa/report", "supervisor", {}),
]
# Open by design: liveness and metrics (for the scraper; no personal data), logging in (and
# the console's sign-in and sign-out), and recordings behind a signed short-lived URL.
PUBLIC = {("GET", "/health"), ("GET", "/metrics"), ("POST", "/auth/login"),
          ("POST", "/auth/session"), ("DELETE", "/auth/session"),
          ("GET", "/recordings/{recording_id}/play"), ("HEAD", "/recordings/{recording_id}/play")}


def test_every_endpoint_is_in_the_matrix(api):
    spec = api.client._transport.app.openapi()  # type: ignore[attr-defined]
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert routes == {(m, p) for m, p, _, _ in ENDPOINTS} | PUBLIC


def fill(path: str, customer: dict, missing: bool) -> str:
    return path.format(
        contact_id=999999 if missing else customer["contact_id"],
        recording_id=customer["anna_recording"], username="anna",
        callback_id=999999, user_id=999999, disposition_id=999999, scope="queue",
        key="support", linkedid="no-such-call" if missing else "call-anna", queue="support",
        display_id=999999, delivery_id=999999, subscription_id=999999, project_id=999999,
        entry_id=999999, report="progress", action="pause", script_id=999999, rule_id=999999)


@pytest.mark.parametrize(("method", "path", "least", "kwargs"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
async def test_role_matrix(api, customer, method, path, least, kwargs):
    kwargs = dict(kwargs)
    url = fill(path, customer, kwargs.pop("missing", False))
    for role in ROLES:
        response = await api.client.request(method, url, headers=api.headers(role), **kwargs)
        if role is None:
            assert response.status_code == 401, (role, response.text)
        elif LEVEL[role] < LEVEL[least]:
            assert response.status_code == 403, (role, response.text)
        else:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500 or response.status_code == 503, response.text


async def test_wrong_and_expired_tokens_are_refused(api):
    for token in ("nonsense", "cc_" + "x" * 43, "s.e30.AAAA"):
        response = await api.client.get("/calls", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_login_gives_a_short_lived_token(api):
    bad = await api.client.post("/auth/login", json={"username": "sue", "password": "nope"})
    assert bad.status_code == 401
    good = await api.client.post("/auth/login",
                                 json={"username": "sue", "password": "correct horse"})
    assert good.status_code == 200 and good.json()["role"] == "supervisor"
    token = good.json()["token"]
    me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "sue"
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert (await api.client.get("/auth/me", headers={
        "Authorization": f"Bearer {tampered}"})).status_code == 401
