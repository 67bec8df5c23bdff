"""A loopback AMI peer for client tests: answers Login and chosen actions, sends given bytes."""

from __future__ import annotations

import asyncio
import contextlib

from callcenter.ami.protocol import FrameParser


class FakeAMI:
    def __init__(self, *, accept_login: bool = True, answer_ping: bool = True) -> None:
        self.accept_login = accept_login
        self.answer_ping = answer_ping
        self.refusing = False  # close each new connection at once, as a restarting Asterisk
        self.after_greeting = b""  # sent with the greeting, before any action is answered
        self.actions: list[dict[str, str]] = []
        self.logins = 0
        self.connections: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeAMI:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.drop()
        if self._handlers:  # they read EOF now: ended, not cancelled later by asyncio.run
            await asyncio.wait(self._handlers, timeout=5)
        with contextlib.suppress(Exception):
            await self.server.wait_closed()

    def drop(self) -> None:
        for writer in self.connections:
            writer.close()
        self.connections.clear()

    def send(self, data: bytes) -> None:
        for writer in self.connections:
            writer.write(data)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        self.connections.append(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n" + self.after_greeting)
        parser = FrameParser()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for action in parser.feed(data):
                    self.actions.append(action)
                    self._answer(action, writer)

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> None:
        aid = action.get("ActionID", "")
        name = action.get("Action", "").lower()
        if name == "login":
            self.logins += 1
            ok = self.accept_login
            msg = "Authentication accepted" if ok else "Authentication failed"
            writer.write(f"Response: {'Success' if ok else 'Error'}\r\nActionID: {aid}\r\n"
                         f"Message: {msg}\r\n\r\n".encode())
            if not ok:
                writer.close()
        elif name == "ping" and self.answer_ping:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode())
        elif name in ("coreshowchannels", "queuestatus"):
            complete = "CoreShowChannelsComplete" if name == "coreshowchannels" else \
                "QueueStatusComplete"
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n\r\n"
                         f"Event: {complete}\r\nActionID: {aid}\r\n"
                         f"EventList: Complete\r\nListItems: 0\r\n\r\n".encode())
        # anything else is left unanswered
