"""The FastAGI server: one asyncio task per call, never a stalled accept loop.

Only the PBX may connect (allowed_peers): a session reveals callers' names and VIP flags and
creates callbacks, so any other peer is closed without a word and logged by address only.
Asterisk gives up connecting after 2 s; a peer with the default listen backlog of 20 dropped
about 1 % of connections at 64 calls/s, so the backlog is large. Every read has a timeout and a
size limit; whatever a route does, the dialplan gets CC_AGI_STATUS and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from callcenter.agi.protocol import (
    MAX_ENV_LINES,
    MAX_LINE,
    AGIError,
    AGIHangup,
    AGIProtocolError,
    Session,
    parse_request,
)

log = logging.getLogger(__name__)

Route = Callable[[Session], Awaitable[None]]
LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
# told of every finished session: route, the status the dialplan got, seconds
SessionObserver = Callable[[str, str, float], None]


class FastAGIServer:
    def __init__(self, host: str, port: int, routes: dict[str, Route], *,
                 env_timeout: float = 5.0, route_timeout: float = 300.0,
                 command_timeout: float = 10.0, backlog: int = 4096,
                 allowed_peers: Iterable[IPv4Network | IPv6Network] = LOOPBACK,
                 on_session: SessionObserver | None = None) -> None:
        self.host, self.port = host, port
        # a socket already bound to (host, port), e.g. by `callcenter run` to report a busy
        # port in one line before anything starts; None: start() binds
        self.sock: socket.socket | None = None
        self.allowed_peers = tuple(allowed_peers)
        self.routes = routes
        self.env_timeout = env_timeout
        self.route_timeout = route_timeout
        self.command_timeout = command_timeout
        self.backlog = backlog
        self.on_session = on_session
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.sessions_served = 0
        self.rejected = 0
        self.refused_peers = 0  # connections from outside allowed_peers
        self.active = 0
        self.most_active = 0  # the most sessions held at once
        self.route_seconds = 0.0  # time in routes, in all
        self.asterisk_seconds = 0.0  # of which waiting for Asterisk

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        if self.sock is not None:
            self._server = await asyncio.start_server(
                self._accept, sock=self.sock, backlog=self.backlog, limit=MAX_LINE)
        else:
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, backlog=self.backlog, limit=MAX_LINE,
                reuse_address=True)
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        log.info("FastAGI listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self._allowed(writer.get_extra_info("peername")):
                await self._serve(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _allowed(self, peer: tuple[str, int] | None) -> bool:
        try:
            address = ip_address(peer[0].split("%")[0]) if peer else None
        except ValueError:
            address = None
        if address is not None and address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address is not None and any(address in net for net in self.allowed_peers):
            return True
        self.refused_peers += 1
        log.warning("FastAGI connection refused: peer not in agi_allowed_peers",
                    extra={"peer": str(address) if address else "unknown"})
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(self.env_timeout):
                lines = await _read_environment(reader)
            request = parse_request(lines)
        except (TimeoutError, AGIProtocolError, ValueError, ConnectionError) as exc:
            self.rejected += 1
            log.warning("FastAGI request rejected", extra={"peer": str(peer), "error": str(exc)})
            return
        route = self.routes.get(request.route)
        session = Session(reader, writer, request, timeout=self.command_timeout)
        if route is None:
            self.rejected += 1
            log.warning("unknown FastAGI route", extra={"route": request.route[:80],
                                                        "channel": request.channel})
            await _set_status(session, "UNKNOWN_ROUTE")
            return
        self.sessions_served += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        started = time.perf_counter()
        status = "CANCELLED"
        try:
            status = await self._run(route, session)
        finally:
            self.active -= 1
            seconds = time.perf_counter() - started
            self.route_seconds += seconds
            self.asterisk_seconds += session.asterisk_seconds
            if self.on_session is not None:
                self.on_session(request.route, status, seconds)

    async def _run(self, route: Route, session: Session) -> str:
        request = session.request
        status = "SUCCESS"
        try:
            async with asyncio.timeout(self.route_timeout):
                await route(session)
        except AGIHangup:
            status = "HANGUP"
            log.info("caller hung up during FastAGI route",
                     extra={"route": request.route, "channel": request.channel})
        except (AGIError, TimeoutError, ValueError, ConnectionError) as exc:
            status = "FAILED"
            log.warning("FastAGI route failed", extra={"route": request.route,
                                                       "channel": request.channel,
                                                       "error": str(exc)})
        except Exception:
            status = "FAILED"
            log.exception("FastAGI route crashed", extra={"route": request.route,
                                                          "channel": request.channel})
        await _set_status(session, status)
        return status


async def _read_environment(reader: asyncio.StreamReader) -> list[str]:
    lines: list[str] = []
    while True:
        try:
            raw = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError) as exc:
            raise AGIProtocolError("AGI environment line too long") from exc
        if not raw:
            raise AGIProtocolError("connection closed before the AGI environment ended")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            return lines
        lines.append(line)
        if len(lines) > MAX_ENV_LINES:
            raise AGIProtocolError("AGI environment too long")


async def _set_status(session: Session, status: str) -> None:
    """Best effort: the channel may already be gone."""
    if session.hung_up:
        return
    with contextlib.suppress(AGIError, AGIHangup, TimeoutError, ConnectionError, OSError):
        await session.set_variable("CC_AGI_STATUS", status)
