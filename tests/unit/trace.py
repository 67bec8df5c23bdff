"""Replaying AMI traces recorded from the real Asterisk (tests/traces, made by tests.capture)."""

from __future__ import annotations

from pathlib import Path

from callcenter.ami.protocol import FrameParser, Message

TRACES = Path(__file__).resolve().parent.parent / "traces"


def trace_bytes(name: str) -> bytes:
    """The bytes after the greeting line."""
    data = (TRACES / f"{name}.ami").read_bytes()
    greeting, _, rest = data.partition(b"\r\n")
    assert greeting.startswith(b"Asterisk Call Manager/")
    return rest


def messages(name: str, chunk: int | None = None) -> list[Message]:
    data = trace_bytes(name)
    parser = FrameParser()
    if chunk is None:
        return parser.feed(data)
    out: list[Message] = []
    for i in range(0, len(data), chunk):
        out.extend(parser.feed(data[i:i + chunk]))
    return out
