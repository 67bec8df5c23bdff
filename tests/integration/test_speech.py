"""Speech analytics through the real Asterisk: an agent says a forbidden phrase (espeak-ng
speech played on the agent's side of a real queue call); the call's recording is split into
the agent's and the customer's tracks, transcribed by the test engine, found by a keyword
search through the API as the agent's words, and flagged at the second it was said."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from callcenter.api.app import create_app
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import track_paths
from callcenter.speech.runner import Speech
from callcenter.users.models import User
from callcenter.users.service import create_token, create_user
from tests.integration.helpers import (
    bearer,
    login_agent,
    logout_everyone,
    place_inbound_call,
    wait_for_final,
)
from tests.speech_audio import speech_with_phrase

pytestmark = pytest.mark.integration


@pytest.fixture
async def speech(service):
    """The service with the test engine on (the shared service runs with speech off)."""
    # only what is recorded from now on: the suite's earlier calls (dozens, from the fault
    # suite) are a backlog for `transcripts backfill`, as they would be at a site's start-up
    settings = service.settings.model_copy(update={"speech_engine": "pocketsphinx",
                                                   "speech_poll_seconds": 0.5,
                                                   "speech_recent_hours": 1 / 3600})
    engine = Speech(settings, service.sessions)
    assert await engine.start(), engine.error
    before, service.speech = service.speech, engine
    task = asyncio.create_task(engine.run())
    yield engine
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    engine.shutdown()
    service.speech = before


@pytest.fixture
async def speaking_agent(service):
    await logout_everyone(service, "support", "sales")
    yield await login_agent(service, "support", "Anna", "2001", phone="cc-test-speaking-agent")
    await logout_everyone(service, "support", "sales")


def _watch_moments(service) -> tuple[dict[tuple[str, str], float], object]:
    """When (AMI event time) each call's recording started (CC_RECORDING set, right after
    MixMonitor) and its agent began to speak (CC_TEST_SPEAKING), by Linkedid."""
    seen: dict[tuple[str, str], float] = {}

    def watch(event: dict[str, str]) -> None:
        if event.get("Event") == "VarSet" and event.get("Variable") in (
                "CC_RECORDING", "CC_TEST_SPEAKING"):
            seen.setdefault((event["Linkedid"], event["Variable"]), float(event["Timestamp"]))

    return seen, service.ami.subscribe(watch, frozenset({"VarSet"}))


async def _until(condition, timeout: float = 120):
    """Polls the API until `condition()` gives something (transcription takes its time)."""
    async with asyncio.timeout(timeout):
        while not (found := await condition()):
            await asyncio.sleep(0.5)
    return found


async def test_forbidden_phrase_said_by_the_agent_is_found_and_flagged(
        service, speech, speaking_agent, recordings_dir, tmp_path):
    audio, phrase_at = await asyncio.to_thread(
        speech_with_phrase, recordings_dir / "speech-test" / tmp_path.name,
        "Good morning, this is Anna from support. I am sorry, but it is", "your fault",
        "Goodbye.")
    transport = httpx.ASGITransport(app=create_app(service=service))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        sup = await bearer(service, "sup-speech")
        async with service.sessions() as session:  # Anna's own login
            user = await session.scalar(select(User).where(User.username == "anna-speech"))
            if user is None:
                user = await create_user(session, username="anna-speech", role="agent",
                                         agent_name="Anna", interface=speaking_agent)
            anna = {"Authorization": f"Bearer {await create_token(session, user)}"}
            await session.commit()
        rule = await http.post("/qa/rules", headers=sup, json={
            "queue": "support", "kind": "forbidden", "phrase": "your fault", "language": "en"})
        assert rule.status_code == 201, rule.text

        seen, unsubscribe = _watch_moments(service)
        try:
            linkedid = await place_inbound_call(
                service, caller="+79161234567", patience=60,
                variables={"__CC_TEST_SPEECH": str(audio.with_suffix(""))})
            call = await wait_for_final(service, linkedid, timeout=90)
        finally:
            unsubscribe()
        assert call.agent == "Anna" and call.outcome == "answered"
        said_at = (seen[(linkedid, "CC_TEST_SPEAKING")] - seen[(linkedid, "CC_RECORDING")]
                   + phrase_at)

        # the recording came with the agent's and the customer's tracks
        async with service.sessions() as session:
            [path] = await session.scalars(select(Recording.path)
                                           .where(Recording.linkedid == linkedid))
        tracks = track_paths(path)
        assert await asyncio.to_thread(lambda: all(p.stat().st_size > 44
                                                   for p in tracks.values()))

        async def found() -> list[dict]:
            response = await http.get("/transcripts/search", headers=sup,
                                      params={"q": "fault", "language": "en"})
            assert response.status_code == 200, response.text
            return [hit for hit in response.json() if hit["linkedid"] == linkedid]

        [hit] = await _until(found)
        assert (hit["speaker"], hit["agent"], hit["queue"]) == ("agent", "Anna", "support")
        assert abs(hit["at_seconds"] - said_at) <= 1.0, (hit, said_at)

        flags = (await http.get("/qa/flags", headers=sup,
                                params={"linkedid": linkedid})).json()
        assert [(f["phrase"], f["kind"], f["speaker"], f["agent"]) for f in flags] == [
            ("your fault", "forbidden", "agent", "Anna")]
        assert abs(flags[0]["at_seconds"] - said_at) <= 1.0, (flags, said_at)

        # Anna finds her own call; the transcript says who spoke
        mine = (await http.get("/transcripts/search", headers=anna,
                               params={"q": "fault"})).json()
        assert linkedid in {h["linkedid"] for h in mine}
        parts = (await http.get("/transcripts", headers=anna,
                                params={"linkedid": linkedid})).json()
        assert {p["speaker"] for p in parts} == {"agent", "customer"}

        # the supervisor reviews it: listened, scored, kept for training
        review = await http.put(f"/qa/reviews/{linkedid}", headers=sup,
                                json={"score": 20, "exemplary": False, "note": "blamed"})
        assert review.status_code == 200, review.text
        report = (await http.get("/qa/report", headers=sup,
                                 params={"since": datetime.fromtimestamp(
                                     seen[(linkedid, "CC_RECORDING")], UTC).isoformat()})).json()
        assert {"phrase": "your fault", "kind": "forbidden", "flags": 1,
                "agents": 1} in report["by_phrase"]
