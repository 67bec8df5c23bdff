"""`/metrics`: every family the operators watch, and values that move with activity."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

from callcenter.calls.pops import Subscriber
from tests.unit.agi_peer import load, replay

FAMILIES = {
    "callcenter_ami_connected", "callcenter_ami_events", "callcenter_writer_queue_depth",
    "callcenter_writer_lag_seconds", "callcenter_writer_records",
    "callcenter_writer_database_up", "callcenter_agi_sessions_active",
    "callcenter_agi_rejected", "callcenter_agi_refused_peers",
    "callcenter_agi_session_duration_seconds",
    "callcenter_http_request_duration_seconds", "callcenter_websocket_clients",
    "callcenter_screen_pops_sent", "callcenter_screen_pops_dropped",
    "callcenter_db_pool_in_use", "callcenter_db_pool_size", "callcenter_conversions_running",
    "callcenter_imports_running", "callcenter_ami_event_lag_seconds",
    "callcenter_ami_event_lag_seconds_max",
}


async def scrape(api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    assert {f.name for f in families} >= FAMILIES
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families for s in f.samples}


async def test_metrics_expose_every_family_and_move_with_activity(api, customer):
    before = await scrape(api)
    assert before[("callcenter_ami_connected", ())] == 0  # the test service has no Asterisk

    contact = f"/contacts/{customer['contact_id']}"
    assert (await api.get(contact, "supervisor")).status_code == 200
    # stamped by Asterisk 30 ms before the service handles it
    api.service.ami.on_event({"Event": "FullyBooted", "Timestamp": f"{time.time() - 0.03:.6f}"})
    api.service.writer.submit([object()])  # never written: the writer is not running here
    api.service.conversions.take()
    popped = asyncio.Event()

    async def send(message: dict) -> None:
        popped.set()

    browser = Subscriber("SIP/2001", "Anna", "agent", send)
    serving = asyncio.create_task(api.service.pops.serve(browser))
    while not api.service.pops.connected("SIP/2001"):
        await asyncio.sleep(0)  # serve() subscribes in its first step
    api.service.pops.on_event({"Event": "AgentCalled", "Interface": "SIP/2001",
                               "Linkedid": "l-1", "CallerIDNum": "+79161234567"})
    await asyncio.wait_for(popped.wait(), 5)
    await api.service.agi.start()
    try:
        assert await replay(api.service.agi.port, load("01-lookup.jsonl"))
    finally:
        await api.service.agi.stop()

    after = await scrape(api)
    browser.closed.set()
    await serving
    http = ("callcenter_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "/contacts/{contact_id}"), ("status", "200")))
    assert after[http] == before.get(http, 0) + 1
    assert after[("callcenter_ami_events_total", ())] == before[
        ("callcenter_ami_events_total", ())] + 1
    lag = "callcenter_ami_event_lag_seconds"
    assert after[(f"{lag}_count", ())] == before[(f"{lag}_count", ())] + 1
    for bound, moved in (("0.025", 0), ("0.05", 1)):
        bucket = (f"{lag}_bucket", (("le", bound),))
        assert after[bucket] - before[bucket] == moved
    assert after[(f"{lag}_max", ())] >= 0.03
    assert after[("callcenter_writer_queue_depth", ())] == 1
    assert after[("callcenter_writer_lag_seconds", ())] > 0
    assert after[("callcenter_conversions_running", ())] == 1
    assert after[("callcenter_websocket_clients", ())] == 1
    assert after[("callcenter_screen_pops_sent_total", ())] == 1
    agi = ("callcenter_agi_session_duration_seconds_count",
           (("route", "lookup"), ("status", "SUCCESS")))
    assert after[agi] == 1
    assert not any("contacts/1" in name or "+7916" in str(labels)
                   for name, labels in after), "raw paths or numbers in labels"
