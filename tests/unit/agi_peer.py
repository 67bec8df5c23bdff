"""Plays Asterisk's side of recorded FastAGI conversations against our server."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

AGI_TRACES = Path(__file__).resolve().parent.parent / "traces" / "agi"
_RECORDING = re.compile(r"/\S*?/recordings/\d{4}/\d{2}/\d{2}/")


def load(name: str) -> list[dict[str, str]]:
    path = next(AGI_TRACES.glob(f"*-{name}.jsonl")) if "-" not in name[:3] else AGI_TRACES / name
    return [json.loads(line) for line in path.read_text().splitlines()]


def normalise(command: str) -> str:
    """Recording paths hold the capture's temp dir and date."""
    return _RECORDING.sub("<recordings>/", command)


async def replay(port: int, transcript: list[dict[str, str]]) -> list[str]:
    """Sends the environment, answers each command with the recorded reply; returns the
    commands the server sent, in order."""
    env, *rest = transcript
    replies = [e["data"] for e in rest if e["from"] == "asterisk"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env["data"].encode())
    sent: list[str] = []
    try:
        while True:
            async with asyncio.timeout(5):
                line = await reader.readline()
            if not line:
                break
            sent.append(line.decode().rstrip("\n"))
            if not replies:
                break
            reply = replies.pop(0)
            if reply == "HANGUP\n" and replies:
                reply += replies.pop(0)
            writer.write(reply.encode())
    finally:
        writer.close()
    return sent


def recorded_commands(transcript: list[dict[str, str]]) -> list[str]:
    return [line for e in transcript if e["from"] == "service"
            for line in e["data"].splitlines()]
