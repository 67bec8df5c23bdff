"""FastAGI: protocol parsing and the server, on conversations recorded from the real Asterisk."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.agi.protocol import (
    AGIError,
    AGIProtocolError,
    parse_request,
    parse_response,
    quote,
)
from callcenter.agi.routes import Routes
from callcenter.agi.server import FastAGIServer
from callcenter.contacts.models import Contact, ContactNumber
from callcenter.db import create_engine, session_factory
from callcenter.ivr.config import load_ivr
from callcenter.migrate import upgrade
from callcenter.settings import Settings
from tests.rig import write_test_ivr
from tests.unit.agi_peer import load, normalise, recorded_commands, replay


def env_lines(name: str) -> list[str]:
    return load(name)[0]["data"].rstrip("\n").split("\n")


def test_real_environment_is_parsed_with_route_and_query():
    request = parse_request(env_lines("ivr"))
    assert (request.route, request.params) == ("ivr", {"menu": "main"})
    assert request.callerid == "+79031234567"
    assert request.channel.startswith("Local/74950000000@callcenter-inbound-")
    # every route is asked through the dialplan's Gosub(callcenter-agi,s,1(...))
    assert (request.env["agi_context"], request.env["agi_extension"]) == ("callcenter-agi", "s")


def test_query_is_url_decoded():
    request = parse_request(["agi_network_script: /announce?lang=ru&note=a%20b%26c"])
    assert (request.route, request.params) == ("announce", {"lang": "ru", "note": "a b&c"})


@pytest.mark.parametrize("lines", [
    ["garbage"],
    ["agi_request: x"],  # no agi_network_script
    ["Agi_network_script announce"],
    ["HTTP/1.1 200 OK"],
])
def test_malformed_environment_is_refused(lines):
    with pytest.raises(AGIProtocolError):
        parse_request(lines)


@pytest.mark.parametrize(("line", "code", "result", "data", "extra"), [
    ("200 result=0 endpos=14560", 200, "0", None, {"endpos": "14560"}),
    ("200 result=1 (test-b05c87b2054f)", 200, "1", "test-b05c87b2054f", {}),
    ("200 result= (timeout)", 200, "", "timeout", {}),
    ("200 result=-1", 200, "-1", None, {}),
    ("200 result=1 (a value (with) parens) endpos=3", 200, "1", "a value (with) parens",
     {"endpos": "3"}),
])
def test_responses(line, code, result, data, extra):
    response = parse_response(line)
    assert (response.code, response.result, response.data, response.extra) == (
        code, result, data, extra)


@pytest.mark.parametrize("line", ["510 Invalid or unknown command",
                                  "511 Command Not Permitted on a dead channel or intercept "
                                  "routine"])
def test_error_responses(line):
    with pytest.raises(AGIError) as info:
        parse_response(line)
    assert info.value.code == int(line[:3])


def test_arguments_are_quoted_and_line_breaks_refused():
    assert quote('say "hi" \\ now') == '"say \\"hi\\" \\\\ now"'
    with pytest.raises(ValueError):
        quote("beep\nHANGUP")


@pytest.fixture
async def server(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/agi.db"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        contact = Contact(name="Мария Иванова", language="ru", vip=True)
        contact.numbers.append(ContactNumber(number="+79031234567"))
        session.add(contact)
        await session.commit()
    settings = Settings(database_url=url, recordings_dir=tmp_path / "recordings", agi_port=0)
    routes = Routes(settings, sessions, load_ivr(write_test_ivr(tmp_path)))
    agi = FastAGIServer("127.0.0.1", 0, routes.table())
    await agi.start()
    yield agi
    await agi.stop()
    await engine.dispose()


@pytest.mark.parametrize("name", ["00-announce.jsonl", "01-lookup.jsonl", "02-ivr.jsonl",
                                  "03-announce.jsonl", "04-lookup.jsonl"])
async def test_recorded_conversations_are_spoken_the_same_way(server, name):
    transcript = load(name)
    sent = await replay(server.port, transcript)
    assert [normalise(c) for c in sent] == [normalise(c) for c in recorded_commands(transcript)]


async def test_caller_hanging_up_during_the_menu_stops_the_route_cleanly(server, caplog):
    """GET DATA answers result=-1 when the caller hangs up; HANGUP follows later."""
    with caplog.at_level(logging.INFO):
        sent = await replay(server.port, load("05-ivr.jsonl"))
    assert sent[-1].startswith("GET DATA")  # nothing is sent to a dead channel
    assert "caller hung up during FastAGI route" in caplog.text
    assert "route failed" not in caplog.text


async def test_hangup_line_before_a_reply_does_not_shift_results(server):
    """Asterisk may send HANGUP ahead of the current command's own reply."""
    transcript = load("02-ivr.jsonl")
    env, *rest = transcript
    rest = [{"from": "asterisk", "data": "HANGUP\n"} if i == 1 else e for i, e in
            enumerate(rest)]
    rest.insert(2, {"from": "asterisk", "data": "200 result=1 (ru)\n"})
    sent = await replay(server.port, [env, *rest])
    # the language reply was read as the GET VARIABLE result; then the route stopped
    assert sent == ["GET VARIABLE \"CHANNEL(language)\""]


async def test_unknown_route_is_answered_and_the_server_keeps_serving(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: nosuch?x=1\nagi_channel: Local/1@x-1;2\n\n")
    line = await asyncio.wait_for(reader.readline(), 5)
    assert line == b'SET VARIABLE "CC_AGI_STATUS" "UNKNOWN_ROUTE"\n'
    writer.write(b"200 result=1\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert await replay(server.port, load("01-lookup.jsonl"))  # still serving
