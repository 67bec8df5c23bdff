"""Playing and downloading recordings: Range, conversion, signed links, audit, retention."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from callcenter.audit.models import AuditEntry
from callcenter.recordings.models import Recording


async def fetch(api, customer, role="supervisor", **kw):
    return await api.get(f"/recordings/{customer['anna_recording']}", role, **kw)


async def test_download_is_an_attachment_with_length_type_and_etag(api, customer):
    response = await fetch(api, customer)
    data = customer["path"].read_bytes()
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["etag"]


async def test_range_requests_for_a_seeking_player(api, customer):
    data = customer["path"].read_bytes()
    size = len(data)
    first = await fetch(api, customer, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.headers["content-disposition"].startswith("inline")
    middle = await fetch(api, customer, headers={"Range": "bytes=1000-1999"})
    assert middle.status_code == 206 and middle.content == data[1000:2000]
    suffix = await fetch(api, customer, headers={"Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.content == data[-500:]
    invalid = await fetch(api, customer, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert invalid.status_code == 416
    assert invalid.headers["content-range"] == f"bytes */{size}"


async def test_conversion_to_mp3_streams_real_mp3(api, customer, tmp_path):
    response = await fetch(api, customer, params={"format": "mp3"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    out = tmp_path / "out.mp3"
    out.write_bytes(response.content)
    probe = await asyncio.to_thread(
        subprocess.run, ["ffprobe", "-v", "error", "-show_entries", "format=format_name,duration",
                         "-of", "default=nw=1", str(out)], capture_output=True, text=True)
    assert "format_name=mp3" in probe.stdout
    duration = float(probe.stdout.split("duration=")[1].split()[0])
    assert 1.8 < duration < 2.3


async def test_signed_url_plays_without_a_header_and_expires_on_tampering(api, customer):
    link = (await api.post(f"/recordings/{customer['anna_recording']}/url", "agent")).json()
    assert link["expires_in"] == api.service.settings.recording_url_seconds
    played = await api.client.get(link["url"], headers={"Range": "bytes=0-9"})
    assert played.status_code == 206 and len(played.content) == 10
    assert (await api.client.get(link["url"].replace("sig=", "sig=x"))).status_code == 403
    other = link["url"].replace(f"/recordings/{customer['anna_recording']}/",
                                f"/recordings/{customer['boris_recording']}/")
    assert (await api.client.get(other)).status_code == 403


async def test_every_listen_and_download_is_audited(api, customer):
    await fetch(api, customer, headers={"Range": "bytes=0-9"})
    await fetch(api, customer, role="agent")
    async with api.service.sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "recording").order_by(AuditEntry.id)))
    assert [(e.username, e.action, e.object_id) for e in entries] == [
        ("sue", "recording.listen", str(customer["anna_recording"])),
        ("anna", "recording.download", str(customer["anna_recording"]))]
    assert all(e.client for e in entries)
    audit = (await api.get("/audit", "supervisor")).json()
    assert {e["action"] for e in audit} >= {"recording.listen", "recording.download"}


async def test_retention_deletes_expired_recordings_and_says_which(api, customer):
    api.service.settings.retention_days = 30
    async with api.service.sessions() as session:
        await session.execute(update(Recording).where(
            Recording.id == customer["anna_recording"]).values(
            created_at=datetime.now(UTC) - timedelta(days=31)))
        await session.execute(update(Recording).where(
            Recording.id == customer["boris_recording"]).values(created_at=datetime.now(UTC)))
        await session.commit()
    response = await api.post("/recordings/purge", "supervisor")
    assert [d["id"] for d in response.json()["deleted"]] == [customer["anna_recording"]]
    assert not customer["path"].exists()
    assert (await fetch(api, customer)).status_code == 404


async def test_a_path_outside_the_recordings_directory_is_never_served(api, customer):
    async with api.service.sessions() as session:
        await session.execute(update(Recording).where(
            Recording.id == customer["anna_recording"]).values(path="/etc/passwd"))
        await session.commit()
    assert (await fetch(api, customer)).status_code == 410


async def test_conversions_beyond_the_bound_get_503_with_retry_after(api, customer):
    conversions = api.service.conversions
    held = [conversions.take() for _ in range(conversions.limit)]  # all slots busy
    busy = await fetch(api, customer, params={"format": "mp3"})
    assert busy.status_code == 503
    assert int(busy.headers["retry-after"]) > 0
    assert "conversions" in busy.json()["detail"]
    plain = await fetch(api, customer)  # no conversion: not bounded by it
    assert plain.status_code == 200
    held.pop().release()
    converted = await fetch(api, customer, params={"format": "mp3"})
    assert converted.status_code == 200 and converted.content[:3] in (b"ID3", b"\xff\xfb")
    assert conversions.running == conversions.limit - 1  # its slot was given back
