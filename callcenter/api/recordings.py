"""Recordings: search, play (HTTP Range, so a browser can seek), download, convert; every
listen or download audited. Paths come from the database, never from the request."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Receive, Scope, Send

from callcenter.api.auth import Agent, Principal, Supervisor, client_ip
from callcenter.api.deps import DbDep, ServiceDep
from callcenter.api.errors import DESCRIPTIONS, Problem, errors
from callcenter.api.fields import Limit, ObjectId, Offset, Timestamp, text
from callcenter.audit.log import audit
from callcenter.calls.models import Call
from callcenter.recordings.convert import convert
from callcenter.recordings.models import Recording
from callcenter.recordings.retention import purge_expired
from callcenter.service import Service
from callcenter.users.models import User
from callcenter.workers import Slot

router = APIRouter(prefix="/recordings", tags=["recordings"])
Linkedid = text(Recording.linkedid)

MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg",
               "gsm": "audio/x-gsm", "wav49": "audio/wav"}


class RecordingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    linkedid: str
    format: str
    duration_seconds: float | None
    size_bytes: int | None
    created_at: datetime


async def _recording_for(db: AsyncSession, recording_id: int, principal: Principal,
                         settings_root: Path) -> tuple[Recording, os.stat_result]:
    recording = await db.get(Recording, recording_id)
    if recording is None:
        raise HTTPException(404, "no such recording")
    if principal.is_agent:
        agent = await db.scalar(select(Call.agent).where(Call.linkedid == recording.linkedid))
        if agent != principal.agent_name:
            raise HTTPException(404, "no such recording")  # not even its existence
    found = await asyncio.to_thread(_inside_and_present, Path(recording.path), settings_root)
    if found is None:
        raise HTTPException(410, "the recording file is gone")
    return recording, found


class RecordingFile(FileResponse):
    """Starlette's 64 KiB chunks cap a 50 MB download at a few hundred MB/s; 1 MiB does not."""

    chunk_size = 1024 * 1024


def _inside_and_present(path: Path, root: Path) -> os.stat_result | None:
    """The file's stat when it is a regular file under the recordings root."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        return None
    try:
        found = resolved.stat()
    except OSError:
        return None
    return found if stat.S_ISREG(found.st_mode) else None


def _etag(recording: Recording, found: os.stat_result, format: str | None) -> str:
    """Strong validator: a recording's file never changes once written (same size and
    mtime: same bytes); a conversion is named by its source and its format."""
    return f'"{recording.id}-{found.st_size}-{found.st_mtime_ns}-{format or recording.format}"'


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag in tags


@router.get("", response_model=list[RecordingOut])
async def search_recordings(db: DbDep, principal: Agent,
                            linkedid: Linkedid | None = None, since: Timestamp | None = None,
                            until: Timestamp | None = None,
                            limit: Limit = 100, offset: Offset = 0) -> list[Recording]:
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


AudioFormat = Literal["mp3", "ogg"]
AUDIO = {200: {"description": "the file (or its conversion)",
               "content": {"audio/wav": {}, "audio/mpeg": {}, "audio/ogg": {}}},
         206: {"description": "the requested byte range"},
         304: {"description": DESCRIPTIONS[304]},
         400: {"description": "malformed Range header"},
         416: {"description": DESCRIPTIONS[416]},
         503: {"model": Problem,
               "description": "too many conversions at once; see Retry-After"},
         **errors(404, 410)}


@router.get("/{recording_id}", response_model=None, responses=AUDIO)
async def get_recording(recording_id: ObjectId, request: Request, principal: Agent, db: DbDep,
                        service: ServiceDep, format: AudioFormat | None = None) -> Response:
    """The file: inline with Range support for players, as an attachment for downloads;
    `format=mp3|ogg` converts on the fly (streamed through ffmpeg). An `ETag` comes with it:
    `If-None-Match` with it answers 304 (not audited: nothing is sent)."""
    return await _serve(recording_id, request, principal, db, service, format)


@router.head("/{recording_id}", response_model=None, responses=AUDIO)
async def head_recording(recording_id: ObjectId, request: Request, principal: Agent,
                         db: DbDep, service: ServiceDep,
                         format: AudioFormat | None = None) -> Response:
    """The headers of GET (type, length, ETag) without the file; not audited."""
    return await _serve(recording_id, request, principal, db, service, format)


class SignedUrl(BaseModel):
    url: str
    expires_in: int


@router.post("/{recording_id}/url", response_model=SignedUrl, responses=errors(404, 410))
async def signed_url(recording_id: ObjectId, principal: Agent, db: DbDep, service: ServiceDep,
                     format: AudioFormat | None = None) -> SignedUrl:
    """A short-lived URL for an <audio> element, which cannot send an Authorization header."""
    await _recording_for(db, recording_id, principal, service.settings.recordings_dir)
    ttl = service.settings.recording_url_seconds
    token = service.keys.recording.sign({"rid": recording_id, "uid": principal.user_id})
    url = f"/recordings/{recording_id}/play?sig={token}" + (f"&format={format}" if format else "")
    return SignedUrl(url=url, expires_in=ttl)


Signature = text(1000, min_length=1)
SIGNED = {**AUDIO, **errors(403)}


@router.get("/{recording_id}/play", response_model=None, responses=SIGNED)
async def play_signed(recording_id: ObjectId, sig: Signature, request: Request, db: DbDep,
                      service: ServiceDep, format: AudioFormat | None = None) -> Response:
    principal = await _signer(recording_id, sig, db, service)
    return await _serve(recording_id, request, principal, db, service, format)


@router.head("/{recording_id}/play", response_model=None, responses=SIGNED)
async def head_signed(recording_id: ObjectId, sig: Signature, request: Request, db: DbDep,
                      service: ServiceDep, format: AudioFormat | None = None) -> Response:
    principal = await _signer(recording_id, sig, db, service)
    return await _serve(recording_id, request, principal, db, service, format)


async def _signer(recording_id: int, sig: str, db: AsyncSession, service: Service) -> Principal:
    payload = service.keys.recording.verify(sig, max_age=service.settings.recording_url_seconds)
    if payload is None or payload.get("rid") != recording_id:
        raise HTTPException(403, "invalid or expired link")
    user = await db.get(User, int(payload["uid"]))  # type: ignore[arg-type]
    if user is None or not user.active:
        raise HTTPException(403, "invalid or expired link")
    return Principal.of(user)


async def _serve(recording_id: int, request: Request, principal: Principal, db: AsyncSession,
                 service: Service, format: str | None) -> Response:
    recording, found = await _recording_for(db, recording_id, principal,
                                            service.settings.recordings_dir)
    converting = format is not None and format != recording.format
    etag = _etag(recording, found, format if converting else None)
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    media_type = MEDIA_TYPES[format] if converting and format else MEDIA_TYPES.get(
        recording.format, "audio/wav")
    if request.method == "HEAD" and converting:
        return Response(media_type=media_type, headers={"ETag": etag})
    slot = service.conversions.take() if converting else None  # 503 before any audit
    try:
        ranged = "range" in request.headers
        if request.method != "HEAD":
            asked = request.headers.get("range")
            if asked is not None and not (asked.isprintable() and len(asked) <= 100):
                asked = "(malformed)"
            audit(db, username=principal.username,
                  action="recording.listen" if ranged else "recording.download",
                  object_type="recording", object_id=recording_id, client=client_ip(request),
                  details=f"format={format or recording.format} range={asked}")
            await db.commit()
    except BaseException:
        if slot is not None:
            slot.release()
        raise
    path = Path(recording.path)
    if slot is not None:
        name = f"{recording.linkedid}.{format}"
        return ConversionResponse(
            slot, convert(path, format or ""), media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"', "ETag": etag})
    disposition = "inline" if ranged else "attachment"
    return RecordingFile(path, media_type=media_type, filename=path.name, stat_result=found,
                         headers={"ETag": etag}, content_disposition_type=disposition)


class ConversionResponse(StreamingResponse):
    """Holds one of the bounded conversion slots until the response is over, however it ends."""

    def __init__(self, slot: Slot, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


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
