"""Recordings: search, play (HTTP Range, so a browser can seek), download, convert; every
listen or download audited. Paths come from the database, never from the request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.api.auth import Agent, Principal, Supervisor, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.recordings.models import Recording
from callcenter.recordings.retention import purge_expired
from callcenter.service import Service
from callcenter.users.models import User

router = APIRouter(prefix="/recordings", tags=["recordings"])

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg",
               "gsm": "audio/x-gsm", "wav49": "audio/wav"}
CONVERT = {"mp3": ["-f", "mp3", "-codec:a", "libmp3lame", "-q:a", "5"],
           "ogg": ["-f", "ogg", "-codec:a", "libvorbis", "-q:a", "4"]}


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    linkedid: str
    format: str
    duration_seconds: float | None
    size_bytes: int | None
    created_at: datetime


async def _recording_for(db: AsyncSession, recording_id: int, principal: Principal,
                         settings_root: Path) -> Recording:
    recording = await db.get(Recording, recording_id)
    if recording is None:
        raise HTTPException(404, "no such recording")
    if principal.is_agent:
        agent = await db.scalar(select(Call.agent).where(Call.linkedid == recording.linkedid))
        if agent != principal.agent_name:
            raise HTTPException(404, "no such recording")  # not even its existence
    if not await asyncio.to_thread(_inside_and_present, Path(recording.path), settings_root):
        raise HTTPException(410, "the recording file is gone")
    return recording


class RecordingFile(FileResponse):
    """Starlette's 64 KiB chunks cap a 50 MB download at a few hundred MB/s; 1 MiB does not."""

    chunk_size = 1024 * 1024


def _inside_and_present(path: Path, root: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_relative_to(root.resolve()) and resolved.is_file()


@router.get("", response_model=list[RecordingOut])
async def search_recordings(db: DbDep, principal: Agent,
                            linkedid: str | None = None, since: datetime | None = None,
                            until: datetime | None = None,
                            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                            offset: Annotated[int, Query(ge=0)] = 0) -> list[Recording]:
    query = select(Recording).order_by(Recording.created_at.desc(), Recording.id.desc())
    if principal.is_agent:
        query = query.join(Call, Call.linkedid == Recording.linkedid).where(
            Call.agent == principal.agent_name)
    if linkedid:
        query = query.where(Recording.linkedid == linkedid)
    if since:
        query = query.where(Recording.created_at >= since)
    if until:
        query = query.where(Recording.created_at < until)
    return list(await db.scalars(query.limit(limit).offset(offset)))


@router.get("/{recording_id}", response_model=None,
            responses={200: {"content": {"audio/wav": {}, "audio/mpeg": {}, "audio/ogg": {}}},
                       206: {"description": "the requested byte range"},
                       416: {"description": "range not satisfiable"}})
async def get_recording(recording_id: int, request: Request, principal: Agent, db: DbDep,
                        service: ServiceDep,
                        format: Literal["mp3", "ogg"] | None = None
                        ) -> FileResponse | StreamingResponse:
    """The file: inline with Range support for players, as an attachment for downloads;
    `format=mp3|ogg` converts on the fly (streamed through ffmpeg)."""
    return await _serve(recording_id, request, principal, db, service, format)


class SignedUrl(BaseModel):
    url: str
    expires_in: int


@router.post("/{recording_id}/url", response_model=SignedUrl)
async def signed_url(recording_id: int, principal: Agent, db: DbDep, service: ServiceDep,
                     format: Literal["mp3", "ogg"] | None = None) -> SignedUrl:
    """A short-lived URL for an <audio> element, which cannot send an Authorization header."""
    await _recording_for(db, recording_id, principal, service.settings.recordings_dir)
    ttl = service.settings.recording_url_seconds
    token = service.keys.recording.sign({"rid": recording_id, "uid": principal.user_id})
    url = f"/recordings/{recording_id}/play?sig={token}" + (f"&format={format}" if format else "")
    return SignedUrl(url=url, expires_in=ttl)


@router.get("/{recording_id}/play", response_model=None)
async def play_signed(recording_id: int, sig: str, request: Request, db: DbDep,
                      service: ServiceDep, format: Literal["mp3", "ogg"] | None = None
                      ) -> FileResponse | StreamingResponse:
    payload = service.keys.recording.verify(sig, max_age=service.settings.recording_url_seconds)
    if payload is None or payload.get("rid") != recording_id:
        raise HTTPException(403, "invalid or expired link")
    user = await db.get(User, int(payload["uid"]))  # type: ignore[arg-type]
    if user is None or not user.active:
        raise HTTPException(403, "invalid or expired link")
    return await _serve(recording_id, request, Principal.of(user), db, service, format)


async def _serve(recording_id: int, request: Request, principal: Principal, db: AsyncSession,
                 service: Service, format: str | None) -> FileResponse | StreamingResponse:
    recording = await _recording_for(db, recording_id, principal, service.settings.recordings_dir)
    ranged = "range" in request.headers
    audit(db, username=principal.username,
          action="recording.listen" if ranged else "recording.download",
          object_type="recording", object_id=recording_id, client=client_ip(request),
          details=f"format={format or recording.format} range={request.headers.get('range')}")
    await db.commit()
    path = Path(recording.path)
    if format is not None and format != recording.format:
        name = f"{recording.linkedid}.{format}"
        return StreamingResponse(
            _ffmpeg(path, format), media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'})
    disposition = "inline" if ranged else "attachment"
    return RecordingFile(path, media_type=MEDIA_TYPES.get(recording.format, "audio/wav"),
                         filename=path.name, content_disposition_type=disposition)


async def _ffmpeg(path: Path, format: str) -> AsyncIterator[bytes]:
    """Conversion streamed through an ffmpeg process: no whole file in memory, no blocking."""
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), *CONVERT[format], "-",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(65536):
            yield chunk
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()


class PurgeResult(BaseModel):
    deleted: list[dict[str, object]]


@router.post("/purge", response_model=PurgeResult)
async def purge(principal: Supervisor, db: DbDep, service: ServiceDep) -> PurgeResult:
    """Runs the retention policy now (it also runs hourly) and says what it deleted."""
    settings = service.settings
    expired = await purge_expired(db, now=datetime.now(UTC),
                                  default_days=settings.retention_days,
                                  days_by_queue=settings.retention_days_by_queue)
    return PurgeResult(deleted=[{"id": e.recording_id, "linkedid": e.linkedid,
                                 "queue": e.queue} for e in expired])
