"""The AGI protocol as Asterisk speaks it over FastAGI.

panoramisk's fast_agi and pyst2 served as references only: panoramisk reads multi-line 520
replies in part and takes an asynchronous HANGUP line as the current command's result (every
later result is then off by one); pyst2's AGI is blocking. Here a HANGUP line is remembered and
the command's own reply is still read, so results never shift.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

MAX_ENV_LINES = 200
MAX_LINE = 8192

# "200 result=1 (data, may hold parentheses) endpos=1234"
_RESULT = re.compile(r"^(?P<code>\d{3}) result=(?P<result>\S*)(?: \((?P<data>.*)\))?"
                     r"(?P<rest>(?: [a-z]+=\S*)*)$")


class AGIError(Exception):
    """Asterisk refused a command (510 unknown, 511 dead channel, 520 usage)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code


class AGIHangup(Exception):
    """The caller hung up; the route should stop."""


class AGIProtocolError(ValueError):
    """The peer did not speak AGI (bad environment, garbage, oversize lines)."""


@dataclass(frozen=True, slots=True)
class Request:
    env: dict[str, str]
    route: str
    params: dict[str, str]

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def callerid(self) -> str:
        value = self.env.get("agi_callerid", "")
        return "" if value == "unknown" else value

    @property
    def language(self) -> str:
        return self.env.get("agi_language", "")


@dataclass(frozen=True, slots=True)
class Response:
    code: int
    result: str
    data: str | None
    extra: dict[str, str]

    @property
    def value(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return 0


def parse_request(lines: list[str]) -> Request:
    env: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep or not key.startswith("agi_"):
            raise AGIProtocolError(f"not an AGI environment line: {line[:60]!r}")
        env[key] = value
    script = env.get("agi_network_script")
    if script is None:
        raise AGIProtocolError("no agi_network_script in the environment")
    path, _, query = script.partition("?")
    route = unquote(path).strip("/")
    params = dict(parse_qsl(query, keep_blank_values=True))
    return Request(env=env, route=route, params=params)


def parse_response(line: str) -> Response:
    match = _RESULT.match(line)
    if match is None:
        code = int(line[:3]) if line[:3].isdigit() else 0
        raise AGIError(code, line[4:] if code else line)
    extra = {}
    for item in match["rest"].split():
        key, _, value = item.partition("=")
        extra[key] = value
    return Response(int(match["code"]), match["result"], match["data"], extra)


def quote(arg: object) -> str:
    """One argument, quoted; line breaks would inject a second command, so they are refused."""
    text = str(arg)
    if "\n" in text or "\r" in text:
        raise ValueError("line break in an AGI argument")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Session:
    """One call's AGI conversation. Every command has a timeout."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 request: Request, timeout: float = 10.0) -> None:
        self._reader = reader
        self._writer = writer
        self.request = request
        self.timeout = timeout
        self.hung_up = False
        self.asterisk_seconds = 0.0  # waiting for Asterisk's replies (playback included)

    async def command(self, *words: object, timeout: float | None = None) -> Response:
        if self.hung_up:
            raise AGIHangup()
        verb, *args = words
        line = " ".join([str(verb), *(quote(a) for a in args)])
        self._writer.write(line.encode() + b"\n")
        started = time.perf_counter()
        async with asyncio.timeout(timeout or self.timeout):
            await self._writer.drain()
            reply = await self._read_line()
            if reply == "HANGUP":
                # Sent when the channel hangs up, ahead of the command's own reply.
                self.hung_up = True
                reply = await self._read_line()
            if reply.startswith("520-"):
                usage = [reply[4:]]
                while not (reply := await self._read_line()).startswith("520 "):
                    usage.append(reply)
                raise AGIError(520, "\n".join(usage))
        self.asterisk_seconds += time.perf_counter() - started
        try:
            response = parse_response(reply)
        except AGIError as exc:
            if exc.code == 511:  # "Command Not Permitted on a dead channel"
                self.hung_up = True
                raise AGIHangup() from None
            raise
        if response.code != 200:
            raise AGIError(response.code, reply[4:])
        if self.hung_up:
            raise AGIHangup()
        return response

    async def _read_line(self) -> str:
        raw = await self._reader.readline()
        if not raw:
            self.hung_up = True
            raise AGIHangup()
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    async def get_variable(self, name: str) -> str | None:
        response = await self.command("GET VARIABLE", name)
        return response.data if response.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        response = await self.command("GET FULL VARIABLE", expression)
        return response.data if response.result == "1" else None

    async def set_variable(self, name: str, value: object) -> None:
        await self.command("SET VARIABLE", name, value)

    async def stream_file(self, prompt: str, escape_digits: str = "") -> Response:
        return await self.command("STREAM FILE", prompt, escape_digits, timeout=120)

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str:
        """Digits pressed ("" when none); result=-1 is the channel failing, i.e. hanging up."""
        response = await self.command("GET DATA", prompt, timeout_ms, max_digits,
                                      timeout=timeout_ms / 1000 + 120)
        if response.value < 0:
            self.hung_up = True
            raise AGIHangup()
        return response.result.strip()

    async def exec(self, application: str, options: str = "") -> Response:
        return await self.command("EXEC", application, options, timeout=120)

    async def verbose(self, message: str, level: int = 3) -> None:
        await self.command("VERBOSE", message, level)
