"""What the scale scenario reads at each size: bytes on disk, read-query latencies."""

from __future__ import annotations

import random
import time
from typing import Any

from psycopg import Connection

from bench.stats import percentile
from projections.queries import get_customers, list_customers
from projections.views import CustomerFilter

FILTERS = (
    CustomerFilter(),
    CustomerFilter(stage="QUALIFIED"),
    CustomerFilter(tier="GOLD"),
    CustomerFilter(region="上海"),
)

SIZES_SQL = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname LIKE 'rm\\_%'), 0),
       coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname NOT LIKE 'rm\\_%'), 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
"""


def disk_usage(conn: Connection[Any]) -> dict[str, int]:
    """Bytes of the whole database, of the read models (rm_*), of the rest (the store)."""
    database = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    sizes = conn.execute(SIZES_SQL).fetchone()
    customers = conn.execute("SELECT count(*) FROM rm_customers").fetchone()
    assert database and sizes and customers
    return {
        "database": int(database[0]),
        "read_models": int(sizes[0]),
        "event_store": int(sizes[1]),
        "customers": int(customers[0]),
    }


def _timed(call: Any) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def query_latencies(conn: Connection[Any], samples: int, rng: random.Random) -> dict[str, Any]:
    """p50/p99 in ms of `samples` 360° profiles (random ids) and list pages (filters)."""
    ids = [r[0] for r in conn.execute("SELECT id FROM rm_customers").fetchall()]
    picks = [rng.choice(ids) for _ in range(samples)]
    filters = [FILTERS[n % len(FILTERS)] for n in range(samples)]
    profile = [_timed(lambda i=i: get_customers(conn, [i])) for i in picks]
    pages = [_timed(lambda f=f: list_customers(conn, f, first=20)) for f in filters]
    return {
        kind: {
            "p50": round(percentile(values, 0.5) * 1000, 3),
            "p99": round(percentile(values, 0.99) * 1000, 3),
        }
        for kind, values in (("profile_360", profile), ("list", pages))
    }
