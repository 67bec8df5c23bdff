from __future__ import annotations

import pytest

from callcenter.ami.protocol import FrameError, FrameParser, encode_action, parse_frame
from tests.unit.trace import messages, trace_bytes


def test_cyrillic_name_split_across_reads_keeps_every_letter():
    data = trace_bytes("answered")
    at = data.index("Иван".encode()) + 1  # inside the two-byte "И"
    parser = FrameParser()
    out = parser.feed(data[:at]) + parser.feed(data[at:])
    names = {m.get("CallerIDName") for m in out}
    assert "Иван Петров" in names


def test_garbled_frame_is_skipped_and_the_stream_goes_on():
    parser = FrameParser()
    out = parser.feed(b"\x00\xff garbage without colon\r\n\r\nEvent: Hangup\r\nUniqueid: 1\r\n\r\n")
    assert out == [{"Event": "Hangup", "Uniqueid": "1"}]
    assert parser.garbled == 1


def test_oversize_message_is_refused():
    parser = FrameParser(max_message_bytes=1000)
    with pytest.raises(FrameError):
        parser.feed(b"Event: X\r\nData: " + b"a" * 2000)


def test_repeated_keys_and_values_with_colons():
    frame = "Event: X\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nAddress: a:b:c"
    assert parse_frame(frame) == {"Event": "X", "ChanVariable": "A=1\nB=2", "Address": "a:b:c"}


def test_action_with_line_break_is_refused():
    with pytest.raises(ValueError):
        encode_action({"Action": "Originate", "CallerID": "x\r\nAction: Hangup"})


def test_action_encoding_lists_and_booleans():
    assert encode_action({"Action": "Originate", "Variable": ["A=1", "B=2"], "Async": True}) == (
        b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n")


def test_trace_parses_completely():
    events = messages("answered")
    names = {m.get("Event") for m in events}
    assert {"Newchannel", "QueueCallerJoin", "AgentConnect", "AgentComplete", "Hangup"} <= names
