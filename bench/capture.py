"""Records a real AMI stream of a few hundred queue calls (bench/data/queue-calls.ami.gz).

    python -m bench.capture [CALLS]

Ten Local-channel agents answer in queue support; a third of the callers wait in the empty
queue sales and hang up. The stream is what a logged-in AMI connection received.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import sys
from pathlib import Path

from callcenter.ami.protocol import encode_action
from tests.integration.helpers import login_agent, logout_everyone, place_inbound_call
from tests.rig import scratch_service

OUT = Path(__file__).parent / "data" / "queue-calls.ami.gz"


async def main(calls: int) -> None:
    svc = await scratch_service(announce_prompt="beep")
    settings = svc.settings
    reader, writer = await asyncio.open_connection(settings.ami_host, settings.ami_port)
    writer.write(encode_action({"Action": "Login", "Username": settings.ami_user,
                                "Secret": settings.ami_secret.get_secret_value()}))
    chunks: list[bytes] = []

    async def pump() -> None:
        while data := await reader.read(65536):
            chunks.append(data)

    pumping = asyncio.create_task(pump())
    rng = random.Random(7)
    try:
        await logout_everyone(svc, "support", "sales")
        for i in range(10):
            await login_agent(svc, "support", f"Agent{i:02d}", f"30{i:02d}")
        for n in range(calls):
            number = f"+7916{rng.randrange(10**7):07d}"
            if n % 3 == 2:
                await place_inbound_call(svc, caller=number, patience=rng.randint(2, 4),
                                         variables={"CC_QUEUE": "sales"})
            else:
                await place_inbound_call(svc, caller=number, talk=rng.randint(1, 3))
            await asyncio.sleep(0.1)
        while svc.tracker.calls:
            await asyncio.sleep(1)
        await logout_everyone(svc, "support", "sales")
        await asyncio.sleep(1)
    finally:
        pumping.cancel()
        writer.close()
        await svc.stop()
    data = b"".join(chunks)
    OUT.write_bytes(gzip.compress(data, 9))
    print(f"{OUT}: {len(data)} bytes, {data.count(b'Event: ')} events, {calls} calls")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
