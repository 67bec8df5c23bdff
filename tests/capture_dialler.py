"""Records the CEL of progressive-dialler calls from the real Asterisk, placed as the dialler
places them (projects/dialler.py: Originate of the customer's channel into
`callcenter-dialler`, ChannelId `dl-…`): customers who are busy, do not answer, are congested,
and one who answers and is put through to an agent.

    python -m tests.capture_dialler      (under the Asterisk lock)

Writes tests/traces/ledger/dialler-cel.jsonl (the CEL lines of those calls only).
"""

from __future__ import annotations

import asyncio
import json
import uuid

from callcenter.ledger.derive import CelEvent
from tests.capture_ledger import CEL, OUT, _size
from tests.rig import scratch_service

# the number's last digit says what the customer does (tests/asterisk: cc-test-dialled)
CUSTOMERS = {"busy": "74951110006", "no_answer": "74951110007",
             "congestion": "74951110009", "answered": "74951110001"}


async def main() -> None:
    svc = await scratch_service()
    try:
        start = _size(CEL)
        linkedids = {}
        for what, number in CUSTOMERS.items():
            linkedid = f"dl-{uuid.uuid4().hex[:16]}"
            linkedids[linkedid] = what
            await svc.ami.client.action({
                "Action": "Originate", "Channel": f"Local/{number}@cc-test-dialled",
                "Context": "callcenter-dialler", "Exten": number, "Priority": 1,
                "Timeout": 4000, "ChannelId": linkedid, "OtherChannelId": f"{linkedid}-2",
                "CallerID": "<74950000000>", "Async": "true",
                "Variable": ["CC_AGENT=Olga", "CC_DIALLER_AGENT=Local/2001@cc-test-agent/n",
                             "CC_AGENT_RING=10"]})
        # every call over: its LINKEDID_END is in the file (polled, the file is the event)
        async with asyncio.timeout(90):
            while True:
                lines = [line for line in CEL.read_bytes()[start:].decode().splitlines()
                         if (event := CelEvent.parse(line)) and event.linkedid in linkedids]
                ended = {e.linkedid for e in map(CelEvent.parse, lines)
                         if e and e.kind == "LINKEDID_END"}
                if set(linkedids) <= ended:
                    break
                await asyncio.sleep(0.5)
        mine = lines
        (OUT / "dialler-cel.jsonl").write_text("\n".join(mine) + "\n")
        (OUT / "dialler-calls.json").write_text(json.dumps(linkedids, indent=1) + "\n")
        print(f"captured {len(mine)} CEL lines of {len(linkedids)} calls into {OUT}")
    finally:
        await svc.stop()


if __name__ == "__main__":
    asyncio.run(main())
