"""`make bench`: every benchmark, one table (also bench/results.json), each figure beside its
baseline measured in the same run.

    python -m bench [--only SUITE,...]   (the names in SUITES below)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    agi_load,
    ami_ingest,
    console_pages,
    heavy_web,
    import_events,
    ledger_catchup,
    outbound,
    reports,
    service_api,
    speech,
    wallboard,
    webhooks,
)
from bench.common import Result, postgres
from tests.rig import unavailable_reason

SUITES = {
    "ami": ami_ingest.run,
    "ledger": ledger_catchup.run,
    "api": service_api.run,
    "agi": agi_load.run,
    "heavy": heavy_web.run,
    "reports": reports.run,
    "pages": console_pages.run,
    "wallboard": wallboard.run,
    "speech": speech.run,
    "outbound": outbound.run,
    "webhooks": webhooks.run,
    "importevents": import_events.run,
}


def table(results: list[Result]) -> str:
    head = ["benchmark", "metric", "value", "baseline", "ratio", "target"]
    rows = []
    for r in results:
        baseline = f"{r.baseline}: {_figure(r.baseline_value)}" \
            if r.baseline_value is not None else ""
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else ""
        target = "" if r.target is None else f"{r.target}: {'met' if r.met else 'MISSED'}"
        rows.append([r.benchmark, r.metric, f"{_figure(r.value)} {r.unit}", baseline, ratio,
                     target])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
            for row in rows]
    return "\n".join([line, rule, *body])


def _figure(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def main(argv: list[str]) -> int:
    reason = unavailable_reason()
    if reason:
        print(f"bench: {reason}", file=sys.stderr)
        return 2
    only = argv[argv.index("--only") + 1].split(",") if "--only" in argv else list(SUITES)
    results: list[Result] = []
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="callcenter-bench-")
    try:
        with postgres() as url:
            for name in only:
                print(f"bench: {name} ...", file=sys.stderr, flush=True)
                results.extend(SUITES[name](url, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"\nMachine: {machine}; {time.monotonic() - started:.0f} s in all\n")
    print(table(results))
    Path(__file__).with_name("results.json").write_text(json.dumps(
        {"machine": machine, "results": [r.row() for r in results]}, indent=2,
        ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
