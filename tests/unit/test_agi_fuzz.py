"""Malformed FastAGI sessions never crash the server nor stop it serving good calls."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.agi.routes import Routes
from callcenter.agi.server import FastAGIServer
from callcenter.db import create_engine, session_factory
from callcenter.ivr.config import load_ivr
from callcenter.settings import Settings
from tests.rig import write_test_ivr
from tests.unit.agi_peer import load, replay


class ServerThread:
    """The server on its own event loop, so the fuzzer can use plain blocking sockets."""

    def __init__(self, tmp_path) -> None:
        self.loop = asyncio.new_event_loop()
        url = f"sqlite+aiosqlite:///{tmp_path}/fuzz.db"  # no tables: lookups fail, calls go on
        self.engine = create_engine(url)
        settings = Settings(database_url=url, recordings_dir=tmp_path)
        routes = Routes(settings, session_factory(self.engine), load_ivr(write_test_ivr(tmp_path)))
        self.server = FastAGIServer("127.0.0.1", 0, routes.table(), env_timeout=0.5,
                                    command_timeout=0.5)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.server.stop())
        self.call(self.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)


@pytest.fixture(scope="module")
def agi_server(tmp_path_factory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def good_call_works(port: int) -> bool:
    transcript = load("01-lookup.jsonl")
    return asyncio.run(replay(port, transcript))[-1] == 'SET VARIABLE "CC_AGI_STATUS" "SUCCESS"'


def send_session(port: int, chunks: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                return  # the server closed on us: a fine answer to garbage
        try:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass


env_line = st.one_of(
    st.builds(lambda k, v: f"agi_{k}: {v}\n".encode(),
              st.sampled_from(["network_script", "channel", "callerid", "uniqueid", "language"]),
              st.text(max_size=80).filter(lambda s: "\n" not in s)),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"") + b"\n"),
)
session = st.one_of(
    st.lists(st.binary(max_size=4000), max_size=4),  # bytes of anything
    st.builds(lambda env, replies: [b"".join(env) + b"\n", *replies],  # env, then odd replies
              st.lists(env_line, max_size=12),
              st.lists(st.sampled_from([b"200 result=1\n", b"HANGUP\n", b"510 Invalid\n",
                                        b"520-Invalid\nusage\n", b"200 result=\n",
                                        b"\xff\xfe\n", b"511 dead\n"]), max_size=6)),
    st.just([b"agi_network_script: announce\n" + b"x" * 100_000]),  # oversize line
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=session)
def test_garbage_never_stops_good_calls(agi_server, chunks):
    send_session(agi_server.server.port, chunks)
    assert agi_server.server.serving


def test_still_serving_after_the_fuzzing(agi_server):
    send_session(agi_server.server.port, [b"\x00" * 10])
    assert good_call_works(agi_server.server.port)


def test_a_silent_client_is_dropped_without_holding_others(agi_server):
    with socket.create_connection(("127.0.0.1", agi_server.server.port)) as silent:
        assert good_call_works(agi_server.server.port)  # served meanwhile
        silent.settimeout(3)
        assert silent.recv(10) == b""  # closed after env_timeout
