"""Fill a benchmark database with demo history through the bulk path (`crm seed`'s own
machinery), so streams, gateway and scale scenarios read realistic data: about 12
events per customer, personal fields sealed, referrals, merges, complaints."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from bootstrap import command_service, open_store
from demo.history import DemoHistory
from demo.runner import OnBatch, SeedReport, load
from streams.rebuild import rebuild

EVENTS_PER_CUSTOMER = 12  # what the demo history records on average (for sizing only)


def seed_history(
    database_url: str,
    master_key: str,
    *,
    customers: int,
    seed: int = 1,
    batch: int = 50,
    on_batch: OnBatch | None = None,
) -> SeedReport:
    """Record `customers` new customers' stories (different `seed`s never share ids)."""
    history = DemoHistory(customers=customers, seed=seed, until=datetime.now(UTC))
    app = open_store(database_url, master_key, kind="bench")
    try:
        return load(
            command_service(app), history.batches(batch), customers=customers, on_batch=on_batch
        )
    finally:
        app.close()


def seed_read_models(database_url: str, master_key: str, *, customers: int) -> list[str]:
    """`seed_history`, then the read models rebuilt from it (what the gateway benches
    read, with no worker running): the ids of the customers that were not merged away."""
    seed_history(database_url, master_key, customers=customers)
    app = open_store(database_url, master_key, kind="bench")
    try:
        rebuild(app, database_url, master_key=master_key)
    finally:
        app.close()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id::text FROM rm_customers WHERE merged_into IS NULL"
        ).fetchall()
    return [r[0] for r in rows]
