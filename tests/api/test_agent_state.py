"""An agent's own state and pause: the reason comes from the configured list."""

from __future__ import annotations


async def test_an_agent_pauses_only_with_a_configured_reason(api):
    for body in ({"action": "pause"}, {"action": "pause", "reason": "bored"}):
        response = await api.post("/agents/me", "agent", json=body)
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "reason"] and "lunch" in error["msg"]
    # a configured reason gets past the check (to Asterisk, which is not running here)
    response = await api.post("/agents/me", "agent", json={"action": "pause", "reason": "lunch"})
    assert response.status_code == 503


async def test_with_no_reasons_configured_any_pause_goes(api):
    api.service.settings.pause_reasons = []
    response = await api.post("/agents/me", "agent", json={"action": "pause"})
    assert response.status_code == 503


async def test_my_state_is_refused_while_asterisk_is_away_rather_than_guessed(api):
    response = await api.get("/agents/me", "agent")
    assert response.status_code == 503
    assert "not connected to Asterisk" in response.json()["detail"]
