"""Consent settled after the call: a call recorded while the database could not say whether
the caller opted out (CC_RECORDING_CONSENT=unknown) keeps its recording only if they had not."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.log import audit
from callcenter.contacts.lookup import find_by_number
from callcenter.recordings.models import Recording
from callcenter.recordings.paths import delete_recordings

log = logging.getLogger(__name__)


async def settle_unknown_consent(session: AsyncSession, *, linkedid: str, caller: str | None,
                                 recordings: Sequence[str]) -> bool:
    """True when the caller (E.164) had opted out of recording: this call's recordings, the
    files given and every `recordings` row of the Linkedid, are deleted and the deletion
    audited. Flushes, does not commit: the record writer's transaction does."""
    if caller is None:
        return False
    contact = await find_by_number(session, caller)
    if contact is None or not contact.recording_opt_out:
        return False
    rows = (await session.execute(
        select(Recording.id, Recording.path).where(Recording.linkedid == linkedid))).all()
    paths = sorted({*recordings, *(path for _id, path in rows)})
    await asyncio.to_thread(delete_recordings, paths)
    if rows:
        await session.execute(delete(Recording).where(Recording.linkedid == linkedid))
    audit(session, username="system", action="recording.deleted_opt_out", object_type="call",
          object_id=linkedid, details=f"contact_id={contact.id} files={len(paths)}")
    await session.flush()
    log.info("recording of a caller who had opted out deleted",
             extra={"linkedid": linkedid, "contact_id": contact.id, "files": len(paths)})
    return True

