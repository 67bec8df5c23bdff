"""1,000,000 contacts and 1,000,000 call records in PostgreSQL, by COPY."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import asyncpg

CONTACTS = 1_000_000
CALLS = 1_000_000


def number(i: int) -> str:
    """Distinct for i < 10**7 (7919 is prime to 10**7)."""
    return f"+7916{(i * 7919) % 10**7:07d}"


def raw_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def populate(url: str, contacts: int = CONTACTS, calls: int = CALLS) -> None:
    rng = random.Random(1)
    now = datetime.now(UTC)
    conn = await asyncpg.connect(raw_dsn(url))
    try:
        await conn.copy_records_to_table(
            "contacts", columns=["id", "name", "email", "notes", "vip", "language", "created_at",
                                 "fields", "recording_opt_out"],
            records=((i, f"Customer {i}", f"c{i}@example.com", None, i % 50 == 0, "ru", now,
                      json.dumps({"company": f"Firm {i % 997}"}), False)
                     for i in range(1, contacts + 1)))
        await conn.copy_records_to_table(
            "contact_numbers", columns=["id", "contact_id", "number", "label"],
            records=((i, i, number(i), "mobile") for i in range(1, contacts + 1)))
        await conn.execute("SELECT setval('contacts_id_seq', $1)", contacts)
        await conn.execute("SELECT setval('contact_numbers_id_seq', $1)", contacts)

        def call(i: int) -> tuple:
            started = now - timedelta(seconds=rng.randrange(365 * 86400))
            answered = rng.random() < 0.8
            return (f"bench-{i}", "inbound", number(rng.randrange(1, contacts + 1)),
                    "+74950000000", started, "support", started + timedelta(seconds=20),
                    started + timedelta(seconds=200), f"Agent{i % 200:03d}" if answered else None,
                    20.0, 180.0 if answered else None,
                    "answered" if answered else "abandoned", False, False, False, "ami")

        await conn.copy_records_to_table(
            "calls", columns=["linkedid", "direction", "caller", "called", "started_at", "queue",
                              "answered_at", "ended_at", "agent", "wait_seconds",
                              "talk_seconds", "outcome", "end_inferred", "vip",
                              "recording_opt_out", "source"],
            records=(call(i) for i in range(calls)))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
