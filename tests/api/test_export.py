"""The CSV export streams 100,000 calls in batches (a peer's timed out at 60 s)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert

from callcenter.api.app import create_app
from callcenter.calls.models import Call
from tests.rig import serving

ROWS = 100_000


async def test_csv_export_of_100000_calls_is_streamed(api):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with api.service.sessions() as session:
        await session.execute(insert(Call.__table__), [
            {"linkedid": f"x-{i}", "direction": "inbound", "caller": "+79160000000",
             "started_at": start + timedelta(seconds=i), "outcome": "answered",
             "end_inferred": False, "agent": "Anna", "talk_seconds": 60.0}
            for i in range(ROWS)])
        await session.commit()
    chunks = lines = 0
    async with serving(create_app(service=api.service)) as address, \
            httpx.AsyncClient(base_url=f"http://{address}", timeout=60) as http, \
            http.stream("GET", "/calls", params={"format": "csv"},
                        headers=api.headers("supervisor")) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            chunks += 1
            lines += chunk.count(b"\n")
    assert lines == ROWS + 1  # header + every call
    assert chunks > 10  # streamed batch by batch, not one buffered body
