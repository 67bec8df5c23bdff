"""Audit entries are written in the same transaction as what they record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.audit.models import AuditEntry


def audit(session: AsyncSession, *, username: str, action: str, object_type: str,
          object_id: object = None, client: str | None = None,
          details: str | None = None) -> None:
    session.add(AuditEntry(at=datetime.now(UTC), username=username, action=action,
                           object_type=object_type,
                           object_id=None if object_id is None else str(object_id),
                           client=client, details=details))
