"""An asyncio AMI connection that stays correct across disconnects.

Written against panoramisk 1.4's Manager as the reference, but not on top of it, because of
its faults that matter to a call center: actions without timeouts hang forever while
disconnected; unanswered actions are re-sent after a reconnect (a second Originate places a
second call); Ping replies are never checked, so a half-open connection goes unnoticed; a
failed login is retried every 2 s forever with no error; an exception in an event callback
tears the connection down. Here: every action has a timeout and fails at once when there is no
connection, nothing is ever re-sent, a missed Ping closes the connection, a refused login is
an error with a growing back-off, and a callback's exception is logged and contained.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

from callcenter.ami.protocol import FrameError, FrameParser, Message, encode_action
from callcenter.logs import log_context

log = logging.getLogger(__name__)


class AMIError(Exception):
    """An action failed: not connected, timed out, or Asterisk answered Error."""


class AuthenticationError(AMIError):
    pass


class AMIClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Callable[[Message], None],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        ping_interval: float = 10.0,
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        retry_wait: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        """`on_disconnect` runs when a connection that was open closes, before the next one
        reads anything. `retry_wait(seconds)` replaces the wait between attempts (tests)."""
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._retry_wait = retry_wait or self._wait_unless_stopped
        self._logged_in = False  # during the last attempt
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, list[Message]] = {}
        self._responses: dict[str, Message] = {}  # the head of a list action's answer
        self._ids = itertools.count(1)
        self._prefix = f"cc-{id(self):x}-"
        self.connected = asyncio.Event()
        self.greeting: str | None = None
        self._stopping = asyncio.Event()

    # -- actions ---------------------------------------------------------------------------

    async def action(self, fields: dict[str, object], timeout: float | None = None) -> Message:
        """Sends one action and returns its Response; raises AMIError on Error or timeout."""
        response = await self._send(fields, timeout, collect=False)
        if response.get("Response", "").lower() == "error":
            raise AMIError(f"{fields.get('Action')}: {response.get('Message', 'error')}")
        return response

    async def action_list(
        self, fields: dict[str, object], timeout: float | None = None
    ) -> list[Message]:
        """Sends an action answered by an event list (QueueStatus, CoreShowChannels)."""
        response = await self._send(fields, timeout, collect=True)
        if response.get("Response", "").lower() == "error":
            raise AMIError(f"{fields.get('Action')}: {response.get('Message', 'error')}")
        return response.get("_events", [])  # type: ignore[return-value]

    async def _send(self, fields: dict[str, object], timeout: float | None,
                    collect: bool) -> Message:
        writer = self._writer
        if writer is None or (not self.connected.is_set() and fields.get("Action") != "Login"):
            raise AMIError(f"{fields.get('Action')}: not connected to Asterisk")
        action_id = f"{self._prefix}{next(self._ids)}"
        payload = encode_action({**fields, "ActionID": action_id})
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        if collect:
            self._lists[action_id] = []
        try:
            writer.write(payload)
            async with asyncio.timeout(timeout or self.action_timeout):
                return await future
        except TimeoutError:
            raise AMIError(f"{fields.get('Action')}: no answer within "
                           f"{timeout or self.action_timeout}s") from None
        finally:
            self._pending.pop(action_id, None)
            self._lists.pop(action_id, None)
            self._responses.pop(action_id, None)

    # -- connection ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connects, reads and reconnects with back-off until stop(). The back-off grows while
        attempts fail and starts again from its minimum after a session that logged in."""
        backoff = self.min_backoff
        while not self._stopping.is_set():
            self._logged_in = False
            try:
                await self._session()
            except AuthenticationError as exc:
                log.error("AMI login refused: check ami_user/ami_secret and manager.conf",
                          extra={"host": self.host, "port": self.port, "error": str(exc)})
                backoff = self.max_backoff
            except (OSError, TimeoutError, FrameError, AMIError) as exc:
                if self._stopping.is_set():
                    break
                if self._logged_in:
                    backoff = self.min_backoff  # Asterisk was there a moment ago: retry soon
                log.warning("AMI connection lost or unavailable",
                            extra={"host": self.host, "port": self.port, "error": repr(exc),
                                   "retry_in": backoff})
            if self._stopping.is_set():
                break
            await self._retry_wait(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _wait_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        self._stopping.set()
        if self._writer is not None:
            self._writer.close()

    async def _session(self) -> None:
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        self._writer = writer
        pinger: asyncio.Task[None] | None = None
        parser = FrameParser()
        try:
            async with asyncio.timeout(self.connect_timeout):
                self.greeting = (await reader.readline()).decode(errors="replace").strip()
            if not self.greeting.startswith("Asterisk Call Manager"):
                raise AMIError(f"not an AMI server: {self.greeting[:60]!r}")
            reading = asyncio.create_task(self._read(reader, parser))
            reading.add_done_callback(lambda _task: self._fail_pending())
            try:
                await self._login()
                self._logged_in = True
                self.connected.set()
                log.info("AMI connected", extra={"host": self.host, "port": self.port,
                                                 "greeting": self.greeting})
                if self._on_connect is not None:
                    await self._on_connect()
                pinger = asyncio.create_task(self._ping_loop(writer))
                await reading
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
        finally:
            self.connected.clear()
            self._writer = None
            if pinger is not None:
                pinger.cancel()
            self._fail_pending()
            writer.close()
            if self._on_disconnect is not None:
                self._on_disconnect()

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AMIError("connection to Asterisk lost"))

    async def _login(self) -> None:
        try:
            await self.action({"Action": "Login", "Username": self._username,
                               "Secret": self._secret, "Events": "on"})
        except AMIError as exc:
            if "not connected" in str(exc) or "lost" in str(exc) or "no answer" in str(exc):
                raise
            raise AuthenticationError(str(exc)) from None

    async def _ping_loop(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action({"Action": "Ping"}, timeout=self.ping_interval)
            except AMIError:
                log.warning("AMI ping unanswered: closing the connection to reconnect")
                writer.close()
                return

    async def _read(self, reader: asyncio.StreamReader, parser: FrameParser) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionResetError("Asterisk closed the AMI connection")
            for message in parser.feed(data):
                self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID")
        future = self._pending.get(action_id) if action_id is not None else None
        # An event carrying the ActionID of an action already answered (OriginateResponse
        # right behind Originate's acknowledgement, in the same read) is an event, not the
        # answer: it must reach the subscribers.
        answered = future is not None and future.done() and "Event" in message
        if action_id is not None and action_id in self._pending and not answered:
            collected = self._lists.get(action_id)
            if "Response" in message:
                if collected is None or message["Response"].lower() == "error":
                    self._resolve(action_id, message)
                elif message.get("EventList", "").lower() != "start":
                    self._resolve(action_id, {**message, "_events": collected})  # type: ignore[dict-item]
                else:
                    self._responses[action_id] = message
                return
            if collected is not None and "Event" in message:
                if message.get("EventList", "").lower() == "complete":
                    head = self._responses.pop(action_id, {"Response": "Success"})
                    self._resolve(action_id, {**head, "_events": collected})  # type: ignore[dict-item]
                else:
                    collected.append(message)
                return
        if "Event" in message:
            try:
                with log_context(message.get("Linkedid")):
                    self._on_event(message)
            except Exception:
                log.exception("AMI event handler failed; event skipped",
                              extra={"event": message.get("Event"),
                                     "linkedid": message.get("Linkedid")})

    def _resolve(self, action_id: str, message: Message) -> None:
        future = self._pending.get(action_id)
        if future is not None and not future.done():
            future.set_result(message)
