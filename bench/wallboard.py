"""Wallboard update latency: from an AMI event leaving the (fake) Asterisk's socket to the
supervisor consoles' feed carrying it, with the service run as `callcenter run` in its own
process and 500 agents logged in to 5 queues (every picture lists them all).

Baseline: one supervisor page and no agent sockets. Measured: 50 supervisor pages and 500
agent sockets open, each event a caller joining a queue and ringing one of the agents (whose
socket gets the ring pop: its latency is reported too). WebSocket clients run in this process
(permessage-deflate negotiated as browsers do); a page counts an event as shown when the
first picture containing it arrives."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import websockets

from bench.common import Result, p50, percentile
from bench.service_api import running_service
from callcenter.db import create_engine, session_factory
from callcenter.users.service import create_token, create_user
from tests.rig import free_port

AGENTS = 500
SUPERVISORS = 50
QUEUES = [f"q{n}" for n in range(5)]
EVENTS = 150
RATE = 10  # events a second
TARGET_MS = 100
WAITING = 20  # callers waiting at once (each stays 2 s)


async def prepare(url: str) -> dict[str, object]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        supervisor = await create_user(session, username="wall-sup", role="supervisor")
        tokens = {"supervisor": await create_token(session, supervisor), "agents": []}
        for i in range(AGENTS):
            agent = await create_user(session, username=f"wall-agent-{i}", role="agent",
                                      agent_name=f"Wall{i:03d}", interface=f"PJSIP/{7000 + i}")
            tokens["agents"].append(await create_token(session, agent))  # type: ignore[union-attr]
        await session.commit()
    await engine.dispose()
    return tokens


def frame(fields: dict[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()


async def tickets(base: str, token: str, n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        return [(await http.post("/auth/ws-ticket")).json()["ticket"] for _ in range(n)]


async def measure(peer, base: str, tokens: dict, supervisors: int, agents: int
                  ) -> tuple[list[float], list[float]]:
    ws_base = base.replace("http://", "ws://")
    sent: dict[str, float] = {}
    boards: list[float] = []
    rings: list[float] = []
    board_sockets = [await websockets.connect(f"{ws_base}/ws/supervisor?ticket={t}",
                                              max_size=None)
                     for t in await tickets(base, tokens["supervisor"], supervisors)]
    agent_sockets = []
    for token in tokens["agents"][:agents]:
        [ticket] = await tickets(base, token, 1)
        agent_sockets.append(await websockets.connect(f"{ws_base}/ws/agent?ticket={ticket}"))

    async def board(ws) -> None:
        pending: set[str] = set()
        async for raw in ws:
            arrived = time.perf_counter()
            pending |= {k for k in sent if k not in seen_by[id(ws)]}
            for key in list(pending):
                if f'"{key}"' in raw:  # a substring test: no parse of a large picture here
                    boards.append(arrived - sent[key])
                    seen_by[id(ws)].add(key)
                    pending.discard(key)

    async def agent(ws) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "ring" and message.get("linkedid") in sent:
                rings.append(time.perf_counter() - sent[message["linkedid"]])

    seen_by: dict[int, set[str]] = {id(ws): set() for ws in board_sockets}
    for ws in board_sockets:
        await ws.recv()  # the picture at connection
    for ws in agent_sockets:
        await ws.recv()  # hello
    tasks = [asyncio.create_task(board(ws)) for ws in board_sockets] + \
        [asyncio.create_task(agent(ws)) for ws in agent_sockets]
    run = f"r{time.monotonic_ns()}"
    for k in range(EVENTS):
        key = f"{run}-{k}"
        n = k % AGENTS
        queue = QUEUES[n % len(QUEUES)]
        data = frame({"Event": "QueueCallerJoin", "Queue": queue, "Uniqueid": key,
                      "Linkedid": key, "CallerIDNum": f"+7916{k:07d}",
                      "Timestamp": f"{time.time():.6f}"})
        data += frame({"Event": "AgentCalled", "Queue": queue, "Interface": f"PJSIP/{7000 + n}",
                       "MemberName": f"Wall{n:03d}", "CallerIDNum": f"+7916{k:07d}",
                       "Linkedid": key, "Uniqueid": key, "Timestamp": f"{time.time():.6f}"})
        if k >= WAITING:  # callers leave again: a few wait at any time
            old = f"{run}-{k - WAITING}"
            data += frame({"Event": "QueueCallerLeave",
                           "Queue": QUEUES[(k - WAITING) % AGENTS % len(QUEUES)],
                           "Uniqueid": old, "Linkedid": old})
        sent[key] = time.perf_counter()
        peer.send(data)
        await asyncio.sleep(1 / RATE)
    expected_rings = EVENTS if agents >= AGENTS else sum(
        1 for k in range(EVENTS) if k % AGENTS < agents)
    try:
        async with asyncio.timeout(30):
            while len(boards) < EVENTS * supervisors or len(rings) < expected_rings:
                await asyncio.sleep(0.05)
    except TimeoutError:
        pass  # what did not arrive is reported as missing below
    for task in tasks:
        task.cancel()
    for ws in board_sockets + agent_sockets:
        await ws.close()
    missing = EVENTS * supervisors - len(boards)
    boards.extend([float("inf")] * missing)  # never shown: counted, not dropped
    return boards, rings


def run(url: str, tmp_dir: str) -> list[Result]:
    tokens = asyncio.run(prepare(url))
    http_port = free_port()
    base = f"http://127.0.0.1:{http_port}"

    async def both() -> tuple[tuple[list[float], list[float]], tuple[list[float], list[float]]]:
        async with running_service(url, http_port, Path(tmp_dir)) as peer:
            while not any(a.get("Action") == "QueueStatus" for a in peer.actions):
                await asyncio.sleep(0.05)
            members = b"".join(frame({
                "Event": "QueueMemberAdded", "Queue": QUEUES[i % len(QUEUES)],
                "Interface": f"PJSIP/{7000 + i}", "MemberName": f"Wall{i:03d}", "Paused": "0",
                "Timestamp": f"{time.time():.6f}"}) for i in range(AGENTS))
            peer.send(members)
            await asyncio.sleep(1)  # the service applies them (nothing to await from here)
            baseline = await measure(peer, base, tokens, 1, 0)
            loaded = await measure(peer, base, tokens, SUPERVISORS, AGENTS)
            return baseline, loaded

    (base_boards, _), (boards, rings) = asyncio.run(both())
    p99 = percentile(boards, 99) * 1000
    ring_p99 = percentile(rings, 99) * 1000 if rings else float("inf")
    label = f"{SUPERVISORS} pages + {AGENTS} agent sockets, {AGENTS} members"
    return [
        Result("Wallboard update", f"p50 ({label})", p50(boards) * 1000, "ms",
               "1 page, no agent sockets", p50(base_boards) * 1000),
        Result("Wallboard update", f"p99 ({label})", p99, "ms", "1 page, no agent sockets",
               percentile(base_boards, 99) * 1000, f"p99 < {TARGET_MS} ms", p99 < TARGET_MS),
        Result("Wallboard update", f"ring pop p99 (same load, {AGENTS} agent sockets)",
               ring_p99, "ms", None, None, f"p99 < {TARGET_MS} ms", ring_p99 < TARGET_MS),
    ]
