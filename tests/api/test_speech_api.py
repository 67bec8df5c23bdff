"""Speech analytics' HTTP API: search with role rules and masking, a call's transcripts, QA
rules (422 naming the field), flags, reviews and the report."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.calls.models import Call
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import track_path
from callcenter.recordings.retention import purge_expired
from callcenter.speech import service as speech
from callcenter.speech.engines import TrackWords
from callcenter.speech.models import QAReview
from callcenter.speech.text import Word


def said(text: str, start: float = 0.0) -> list[Word]:
    return [Word(w, start + i, start + i + 0.8) for i, w in enumerate(text.split())]


async def _transcribe(api, customer) -> None:
    async with api.service.sessions() as session:
        await speech.save_transcription(session, customer["anna_recording"], "call-anna", [
            TrackWords("agent", "ru", said("здравствуйте это не сбой а авария", 2.0), 10.0),
            TrackWords("customer", "ru", said("запишите номер девять один шесть один два три"),
                       10.0)], "test")
        await speech.save_transcription(session, customer["boris_recording"], "call-boris", [
            TrackWords("agent", "ru", said("у нас опять сбои"), 5.0)], "test")


async def test_search_roles_masking_and_transcripts(api, customer):
    rule = await api.post("/qa/rules", "supervisor", json={
        "queue": "support", "kind": "forbidden", "phrase": "сбой", "language": "ru"})
    assert rule.status_code == 201, rule.text
    await _transcribe(api, customer)

    response = await api.get("/transcripts/search", "supervisor", params={"q": "сбоя"})
    assert response.status_code == 200, response.text
    assert sorted((h["linkedid"], h["speaker"], h["at_seconds"]) for h in response.json()) == [
        ("call-anna", "agent", 5.0), ("call-boris", "agent", 3.0)]

    mine = (await api.get("/transcripts/search", "agent", params={"q": "номер"})).json()
    assert [h["linkedid"] for h in mine] == ["call-anna"]
    assert "девять" not in mine[0]["snippet"]
    assert (await api.get("/transcripts/search", "other_agent",
                          params={"q": "номер"})).json() == []
    # another agent's call does not exist for an agent
    assert (await api.get("/transcripts", "other_agent",
                          params={"linkedid": "call-anna"})).status_code == 404
    parts = (await api.get("/transcripts", "agent", params={"linkedid": "call-anna"})).json()
    customer_words = next(p["words"] for p in parts if p["speaker"] == "customer")
    assert [w["text"] for w in customer_words][:2] == ["запишите", "номер"]
    assert {w["text"] for w in customer_words[2:]} == {"***"}
    sup = (await api.get("/transcripts", "supervisor", params={"linkedid": "call-anna"})).json()
    assert "девять" in [w["text"] for p in sup for w in p["words"]]

    assert (await api.get("/transcripts/search", "supervisor",
                          params={"q": ""})).status_code == 422
    assert (await api.get("/qa/flags", "agent")).status_code == 403


async def test_rules_flags_reviews_report(api, customer):
    bad = await api.post("/qa/rules", "supervisor", json={
        "kind": "forbidden", "phrase": "!!!", "language": "ru"})
    assert bad.status_code == 422 and "phrase" in bad.text
    bad = await api.post("/qa/rules", "supervisor", json={
        "kind": "sometimes", "phrase": "сбой"})
    assert bad.status_code == 422 and "kind" in bad.text
    for body in ({"kind": "forbidden", "phrase": "авария", "language": "ru"},
                 {"kind": "required", "phrase": "добрый день", "language": "ru",
                  "within_seconds": 10, "queue": "support"}):
        assert (await api.post("/qa/rules", "supervisor", json=body)).status_code == 201
    await _transcribe(api, customer)

    flags = (await api.get("/qa/flags", "supervisor")).json()
    assert sorted((f["linkedid"], f["kind"], f["phrase"], f["at_seconds"]) for f in flags) == [
        ("call-anna", "forbidden", "авария", 7.0),
        ("call-anna", "required", "добрый день", None),
        ("call-boris", "required", "добрый день", None)]

    review = await api.client.put("/qa/reviews/call-anna", headers=api.headers("supervisor"),
                                  json={"score": 40, "exemplary": False, "note": "слово"})
    assert review.status_code == 200, review.text
    assert review.json()["reviewed_by"] == "sue"
    assert (await api.client.put("/qa/reviews/call-anna", headers=api.headers("supervisor"),
                                 json={"score": 101})).status_code == 422
    assert (await api.client.put("/qa/reviews/no-such-call", headers=api.headers("supervisor"),
                                 json={})).status_code == 404
    unreviewed = (await api.get("/qa/flags", "supervisor", params={"reviewed": False})).json()
    assert {f["linkedid"] for f in unreviewed} == {"call-boris"}

    report = (await api.get("/qa/report", "supervisor")).json()
    assert sorted((a["agent"], a["flags"], a["forbidden"]) for a in report["by_agent"]) == [
        ("Anna", 2, 1), ("Boris", 1, 0)]
    assert {"phrase": "добрый день", "kind": "required", "flags": 2,
            "agents": 2} in report["by_phrase"]

    rules = (await api.get("/qa/rules", "supervisor")).json()
    gone = await api.client.delete(f"/qa/rules/{rules[0]['id']}",
                                   headers=api.headers("supervisor"))
    assert gone.status_code == 204
    assert len((await api.get("/qa/rules", "supervisor")).json()) == len(rules) - 1
    status = (await api.get("/transcripts/status", "supervisor")).json()
    assert status == {"enabled": False, "engine": "off", "language": None, "error": None,
                      "transcribed": 0, "failed": 0}


async def test_forget_me_and_retention_delete_transcripts_with_their_recordings(api, customer):
    # the tracks MixMonitor wrote beside the mixed file go too
    track = track_path(customer["path"], "agent")
    track.parent.mkdir(parents=True, exist_ok=True)
    track.write_bytes(customer["path"].read_bytes())
    await _transcribe(api, customer)
    await api.post("/qa/rules", "supervisor", json={"kind": "forbidden", "phrase": "сбой"})
    await api.client.put("/qa/reviews/call-anna", headers=api.headers("supervisor"),
                         json={"note": "перезвонить Ивану"})
    assert (await api.get("/transcripts", "supervisor",
                          params={"linkedid": "call-anna"})).status_code == 200

    forgotten = await api.client.delete(f"/contacts/{customer['contact_id']}",
                                        headers=api.headers("admin"), params={"forget": True})
    assert forgotten.status_code == 200, forgotten.text
    for linkedid in ("call-anna", "call-boris"):
        assert (await api.get("/transcripts", "supervisor",
                              params={"linkedid": linkedid})).status_code == 404
        assert (await api.get("/qa/flags", "supervisor",
                              params={"linkedid": linkedid})).json() == []
    assert (await api.get("/transcripts/search", "supervisor", params={"q": "сбой"})).json() == []
    assert not customer["path"].exists() and not track.exists()

    # retention: a transcript expires with its recording
    async with api.service.sessions() as session:
        assert await session.get(QAReview, "call-anna") is None  # its note named the caller
        when = datetime(2020, 1, 1, tzinfo=UTC)
        session.add(Call(linkedid="old-call", direction="inbound", started_at=when,
                         answered_at=when, ended_at=when, agent="Anna", outcome="answered",
                         end_inferred=False))
        old = Recording(linkedid="old-call", path=str(customer["path"].with_name("old.wav")),
                        format="wav", created_at=when)
        session.add(old)
        await session.commit()
        await speech.save_transcription(session, old.id, "old-call", [
            TrackWords("agent", "ru", said("это сбой"), 2.0)], "test")
        assert [h.linkedid for h in await speech.search(
            session, "сбой", speech.Viewer("supervisor"), None)] == ["old-call"]
        await purge_expired(session, now=datetime.now(UTC), default_days=30, days_by_queue={})
        assert await speech.search(session, "сбой", speech.Viewer("supervisor"), None) == []
