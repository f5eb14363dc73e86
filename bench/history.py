"""Fill a benchmark database with demo history through the bulk path (`crm seed`'s own
machinery), so streams, gateway and scale scenarios read realistic data: about 12
events per customer, personal fields sealed, referrals, merges, complaints."""

from __future__ import annotations

from datetime import UTC, datetime

from bootstrap import command_service, open_store
from demo.history import DemoHistory
from demo.runner import OnBatch, SeedReport, load

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
