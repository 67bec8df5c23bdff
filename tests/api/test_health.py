"""/health: every part, the writer's backlog and every background task; a failing task is
restarted and seen."""

from __future__ import annotations

import asyncio
import logging

from callcenter.supervisor import Supervisor


async def test_a_task_raising_value_error_is_restarted_and_shown_in_health(api, caplog):
    waits: list[float] = []
    restarting = asyncio.Event()
    retry = asyncio.Event()  # holds the second restart until the test has looked

    async def wait_to_retry(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            restarting.set()
            await retry.wait()

    attempts = 0
    running = asyncio.Event()

    async def live_state_loader() -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise ValueError(f"bad QueueStatus #{attempts}")
        running.set()
        await asyncio.Event().wait()  # then runs as it should

    api.service.supervisor = Supervisor(min_backoff=1.0, max_backoff=60.0, sleep=wait_to_retry)
    with caplog.at_level(logging.ERROR, logger="callcenter.supervisor"):
        api.service.supervise("live-state", live_state_loader)
        await asyncio.wait_for(restarting.wait(), 5)
        response = await api.get("/health", None)
        assert response.status_code == 503
        body = response.json()
        assert body["tasks"]["live-state"]["alive"] is False
        assert body["tasks"]["live-state"]["state"] == "restarting"
        assert "tasks.live-state" in body["down"]

        retry.set()
        await asyncio.wait_for(running.wait(), 5)
        body = (await api.get("/health", None)).json()
    task = body["tasks"]["live-state"]
    assert (task["alive"], task["state"], task["restarts"]) == (True, "running", 2)
    assert task["last_error"] == "ValueError('bad QueueStatus #2')"
    assert "tasks.live-state" not in body["down"]
    assert waits == [1.0, 2.0]  # exponential back-off
    assert "background task failed; restarting" in caplog.text
    assert "Traceback" in caplog.text and "bad QueueStatus #1" in caplog.text
    await api.service.supervisor.stop()


async def test_back_off_is_capped():
    waits: list[float] = []

    async def wait_to_retry(seconds: float) -> None:
        waits.append(seconds)

    sixth = asyncio.Event()

    async def always_failing() -> None:
        if len(waits) == 6:
            sixth.set()
            await asyncio.Event().wait()
        raise RuntimeError("no")

    supervisor = Supervisor(min_backoff=1.0, max_backoff=8.0, sleep=wait_to_retry)
    task = supervisor.start("x", always_failing)
    await asyncio.wait_for(sixth.wait(), 5)
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0] and task.restarts == 6
    await supervisor.stop()
    assert supervisor.report()["x"]["state"] == "stopped"


async def test_health_of_a_started_service_names_what_is_down(api):
    """No Asterisk here: AMI is down (503), everything else is up and every task alive."""
    service = api.service
    await service.start()
    try:
        response = await api.get("/health", None)
    finally:
        await service.stop()
    assert response.status_code == 503
    body = response.json()
    assert {k: body[k] for k in ("status", "down", "database", "ami", "agi")} == {
        "status": "degraded", "down": ["ami"], "database": True, "ami": False, "agi": True}
    assert body["writer"] == {"pending": 0, "in_memory": 0, "spilled": 0, "set_aside": 0,
                              "written": 0, "database_up": True}
    assert set(body["tasks"]) == {"record-writer", "ami", "retention", "recordings-sweep",
                                  "dialler", "today-figures", "webhooks"}
    assert body["webhooks"] == {"delivered": 0, "failed_attempts": 0, "dead_lettered": 0}
    assert all(task["alive"] and task["restarts"] == 0 for task in body["tasks"].values())
