"""Records Asterisk's own ledger (CEL and queue_log) for real calls, with a rotation of both
files in the middle, beside the records the live AMI path made of the same calls.

    python -m tests.capture_ledger

Writes tests/traces/ledger/: cel-1.jsonl and queue_log-1 (written before the rotation),
cel-2.jsonl and queue_log-2 (after it), and ami-records.json (the live path's records).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from sqlalchemy import select

from callcenter.calls.models import Call
from tests.capture import SCENARIOS
from tests.integration.helpers import logout_everyone, place_inbound_call, wait_for_call
from tests.rig import ASTERISK_ROOT, scratch_service

OUT = Path(__file__).parent / "traces" / "ledger"
LOGS = ASTERISK_ROOT / "var/log/asterisk"
CEL = LOGS / "cel-custom" / "callcenter-cel.jsonl"
QUEUE_LOG = LOGS / "queue_log"


async def early_hangup(svc) -> list[str]:
    """Hangs up during the recording notice, before any queue."""
    return [await place_inbound_call(svc, caller="+79161230004", patience=1)]


async def closed(svc) -> list[str]:
    """The IVR's holiday menu: out of hours, the call is ended by the system."""
    return [await place_inbound_call(svc, caller="+79161230005",
                                     variables={"CC_IVR_MENU": "closed"})]


FIRST = ["answered", "abandoned", "timeout", early_hangup]
SECOND = ["transfer", "clicktocall", "ivr", closed]


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _rx(command: str) -> None:
    subprocess.run(["chroot", str(ASTERISK_ROOT), "asterisk", "-rx", command], check=True,
                   capture_output=True)


async def _run(svc, scenarios) -> list[str]:
    linkedids = []
    for scenario in scenarios:
        await logout_everyone(svc, "support", "sales")
        run = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        for linkedid in await run(svc):
            await wait_for_call(svc, linkedid, timeout=90)
            linkedids.append(linkedid)
    await logout_everyone(svc, "support", "sales")
    await asyncio.sleep(2)  # CEL's LINKEDID_END is written after the AMI Hangup
    return linkedids


async def main() -> None:
    svc = await scratch_service()
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        cel_start, queue_start = _size(CEL), _size(QUEUE_LOG)
        first = await _run(svc, FIRST)
        (OUT / "cel-1.jsonl").write_bytes(CEL.read_bytes()[cel_start:])
        (OUT / "queue_log-1").write_bytes(QUEUE_LOG.read_bytes()[queue_start:])
        # rotation as logrotate does it: rename, then Asterisk opens the file anew
        CEL.rename(CEL.with_name(CEL.name + ".1"))
        _rx("logger rotate")
        cel_start, queue_start = _size(CEL), _size(QUEUE_LOG)
        second = await _run(svc, SECOND)
        (OUT / "cel-2.jsonl").write_bytes(CEL.read_bytes()[cel_start:])
        (OUT / "queue_log-2").write_bytes(QUEUE_LOG.read_bytes()[queue_start:])
        async with svc.sessions() as session:
            calls = (await session.scalars(select(Call).where(
                Call.linkedid.in_(first + second)))).all()
        records = [{c.name: getattr(call, c.name) for c in Call.__table__.columns
                    if c.name != "id"} for call in calls]
        (OUT / "ami-records.json").write_text(
            json.dumps(sorted(records, key=lambda r: r["started_at"]), default=str, indent=1,
                       ensure_ascii=False) + "\n")
        print(f"captured {len(records)} calls into {OUT}")
    finally:
        await svc.stop()


if __name__ == "__main__":
    asyncio.run(main())
