"""A real HTTP receiver for webhooks on a loopback port: it verifies each signature as a CRM
would, keeps what arrived, and can be stopped (port closed) and started again on the same
port. Waiting on it is waiting for an arrival, never a sleep."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from callcenter.outbox.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from tests.rig import free_port


@dataclass
class Arrival:
    event_id: str
    body: dict[str, Any]
    signature_valid: bool
    header_id_matches: bool
    at: float  # time.monotonic() when it arrived


class Receiver:
    def __init__(self, secret: str, port: int | None = None) -> None:
        self.secret = secret
        self.port = port or free_port()
        self.arrivals: list[Arrival] = []
        self.status = 200  # what it answers
        self._changed = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any],
                       send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        data = json.loads(body)
        valid = verify(self.secret, headers.get(SIGNATURE_HEADER.lower(), ""), body)
        if self.status < 300:
            async with self._changed:
                self.arrivals.append(Arrival(data["id"], data, valid,
                                             headers.get(EVENT_ID_HEADER.lower()) == data["id"],
                                             time.monotonic()))
                self._changed.notify_all()
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" * 10_000})  # bounded reader

    async def start(self) -> None:
        self._server = uvicorn.Server(uvicorn.Config(self, host="127.0.0.1", port=self.port,
                                                     lifespan="off", log_config=None))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)  # uvicorn exposes no started event

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def wait_for(self, predicate: Callable[[list[Arrival]], bool],
                       timeout: float) -> list[Arrival]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.arrivals))
        return list(self.arrivals)

    def ids(self) -> list[str]:
        return [a.event_id for a in self.arrivals]
