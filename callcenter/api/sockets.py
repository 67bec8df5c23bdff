"""What every pushed WebSocket (agent pops, supervisor wallboard) does around its sending:
notice the browser going, and cut the user off once they are deactivated or revoked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator

from fastapi import WebSocket, WebSocketDisconnect, status
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from callcenter.service import Service
from callcenter.users.models import User

log = logging.getLogger(__name__)


class _Recheck:
    """Whether each open socket's user is still active and unrevoked: one query every
    ws_recheck_seconds for all of a service's sockets (500 agents' sockets each asking on
    their own would be 100 queries a second on the web's pool, and as many loop turns)."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._open: dict[asyncio.Event, tuple[object, object]] = {}
        self.revoked: set[asyncio.Event] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, payload: dict[str, object], closed: asyncio.Event) -> None:
        self._open[closed] = (payload.get("uid"), payload.get("ep"))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def remove(self, closed: asyncio.Event) -> None:
        self._open.pop(closed, None)
        self.revoked.discard(closed)

    async def _run(self) -> None:
        while self._open:
            await asyncio.sleep(self._service.settings.ws_recheck_seconds)
            ids = {uid for uid, _ in self._open.values() if isinstance(uid, int)}
            try:
                async with self._service.sessions() as db:
                    rows = {uid: (active, epoch) for uid, active, epoch in await db.execute(
                        select(User.id, User.active, User.token_epoch).where(User.id.in_(ids)))}
            except (SQLAlchemyError, OSError) as exc:  # the database is away: keep feeding
                log.warning("socket recheck failed", extra={"error": repr(exc)})
                continue
            for closed, (uid, epoch) in list(self._open.items()):
                row = rows.get(uid)  # type: ignore[arg-type]
                if row is None or not row[0] or row[1] != epoch:
                    self.revoked.add(closed)
                    closed.set()


_RECHECKS: weakref.WeakKeyDictionary[Service, _Recheck] = weakref.WeakKeyDictionary()


def _recheck(service: Service) -> _Recheck:
    recheck = _RECHECKS.get(service)
    if recheck is None:
        recheck = _RECHECKS[service] = _Recheck(service)
    return recheck


@contextlib.asynccontextmanager
async def guarded(websocket: WebSocket, service: Service, payload: dict[str, object],
                  closed: asyncio.Event) -> AsyncIterator[None]:
    """While the body sends: `closed` is set when the browser goes or the ticket's user is
    deactivated or revoked (checked every ws_recheck_seconds, for all sockets at once); a
    revoked user's socket is then closed with 1008."""
    receiving = asyncio.ensure_future(_until_disconnect(websocket, closed))
    recheck = _recheck(service)
    recheck.add(payload, closed)
    try:
        yield
    finally:
        receiving.cancel()
        revoked = closed in recheck.revoked
        recheck.remove(closed)
    if revoked:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION,
                                  reason="user deactivated or tokens revoked")


async def _until_disconnect(websocket: WebSocket, closed: asyncio.Event) -> None:
    """Reads (and ignores) what the browser sends, to notice when it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message.get("type") == "websocket.disconnect":
                break
    finally:
        closed.set()
