"""Scale by customers: list and 360° latency measured at 100k, 300k and 1M customers.

The read-model rows are generated set-based (``INSERT … SELECT generate_series``),
straight into PostgreSQL through the projections' own tables, so the counters'
triggers and every index are maintained as in production and the run stays within the
bench's time. The mix follows the demo's: lifecycle stages and tiers skewed (few VIPs),
0.6% of customers merged away as duplicates (`demo.story.DUPLICATE_RATE`), both sides of
each merge applied (as in a settled read model). Each size is
measured, never extrapolated: the read functions the gateway calls, on PostgreSQL
(the size effect, without HTTP; the gateway scenario prices HTTP and GraphQL).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg import Connection

from bench.stats import percentile
from demo.story import DUPLICATE_RATE
from projections.counts import count_customers
from projections.cursors import customer_cursor
from projections.keyset import Order, keyset_page
from projections.queries import complaints_for, get_customers
from projections.schema import create_all
from projections.views import CustomerFilter
from projections.vocabulary import LIFECYCLE_STAGES, TIERS

CUSTOMER_SERIES: Final = (100_000, 300_000, 1_000_000)
CHUNK: Final = 100_000

LIFECYCLE_WEIGHTS: Final = (30, 10, 15, 15, 8, 7, 15)
TIER_WEIGHTS: Final = {"BRONZE": 70, "SILVER": 20, "GOLD": 8, "VIP": 2}
REGIONS: Final = ("上海", "北京", "广州", "深圳", "杭州", "成都", "海外", "南京")
STAGES: Final = ("LEAD", "CONTACTED", "QUALIFIED", "PROPOSAL", "WON", "LOST")

GENERATE_SQL: Final = """
INSERT INTO rm_customers (id, name, email, company, region, source, owner, tags, stage,
    created_at, updated_at, version, last_position, lifecycle_stage, tier,
    purchase_count, purchase_total, merged_into)
SELECT md5('customer' || g)::uuid, 'Customer ' || g, 'c' || g || '@example.com',
    'Company ' || (g %% 5000), (%(regions)s::text[])[1 + g %% 8], 'web',
    'owner-' || (g %% 40),
    CASE WHEN g %% 10 = 0 THEN ARRAY['vip'] WHEN g %% 7 = 0 THEN ARRAY['b2b'] ELSE '{}' END,
    (%(stages)s::text[])[1 + (g / 3) %% 6],
    timestamptz '2023-01-01' + g * interval '90 seconds',
    timestamptz '2023-01-01' + g * interval '90 seconds' + (g %% 97) * interval '1 day',
    3, g,
    (%(lifecycle)s::text[])[1 + abs(hashint4(g)) %% cardinality(%(lifecycle)s::text[])],
    (%(tiers)s::text[])[1 + abs(hashint4(g + 7)) %% cardinality(%(tiers)s::text[])],
    g %% 9, (g %% 9) * 1234.5,
    CASE WHEN g %% %(every)s = 0 THEN md5('customer' || (g - 1))::uuid END
FROM generate_series(%(start)s::int, %(stop)s::int) AS g
"""
MERGES_SQL: Final = """
INSERT INTO rm_merges (duplicate_id, survivor_id, merged_at, duplicate_position,
    survivor_position)
SELECT md5('customer' || g)::uuid, md5('customer' || (g - 1))::uuid, now(), g, g
FROM generate_series(%(start)s::int, %(stop)s::int) AS g WHERE g %% %(every)s = 0
"""

Log = Callable[[str], None]


def _weighted(values: tuple[str, ...], weights: tuple[int, ...]) -> list[str]:
    return [v for v, w in zip(values, weights, strict=True) for _ in range(w)]


def grow(conn: Connection[Any], have: int, goal: int) -> None:
    """Add customers have+1 … goal (and their share of merged duplicates), in chunks."""
    params: dict[str, Any] = {
        "regions": list(REGIONS),
        "stages": list(STAGES),
        "lifecycle": _weighted(LIFECYCLE_STAGES, LIFECYCLE_WEIGHTS),
        "tiers": _weighted(tuple(TIER_WEIGHTS), tuple(TIER_WEIGHTS.values())),
        "every": round(1 / DUPLICATE_RATE),
    }
    for start in range(have + 1, goal + 1, CHUNK):
        stop = min(goal, start + CHUNK - 1)
        conn.execute(GENERATE_SQL, {**params, "start": start, "stop": stop})
        conn.execute(MERGES_SQL, {**params, "start": start, "stop": stop})
        conn.commit()


def _timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def _list_call(
    conn: Connection[Any], where: CustomerFilter, after: str | None, total: bool
) -> Callable[[], object]:
    def call() -> object:
        page = keyset_page(conn, where, Order(), first=20, after=after)
        return (page, count_customers(conn, where)) if total else page

    return call


def _profile_call(conn: Connection[Any], customer_id: UUID) -> Callable[[], object]:
    """What the 360° query reads: the profile (merge tree resolved) and its complaints."""
    return lambda: (get_customers(conn, [customer_id]), complaints_for(conn, [customer_id]))


def latencies(conn: Connection[Any], samples: int, rng: random.Random) -> dict[str, Any]:
    """p50/p99 (ms) of list pages filtered by lifecycle and by tier, with and without
    the total, and of 360° profiles of random customers."""
    filters = {
        "lifecycle": [CustomerFilter(lifecycle_stage=s) for s in LIFECYCLE_STAGES],
        "tier": [CustomerFilter(tier=t) for t in TIERS],
    }
    sampled = conn.execute("SELECT id, created_at FROM rm_customers ORDER BY random() LIMIT 2000")
    rows = sampled.fetchall()
    times: dict[str, list[float]] = {}
    for n in range(samples):
        for kind, options in filters.items():
            where = options[n % len(options)]
            # Every other page starts deep in the list, after a random customer.
            anchor = rng.choice(rows)
            after = customer_cursor(anchor[1], anchor[0]) if n % 2 else None
            for total in (False, True):
                name = f"list_{kind}" + ("_total" if total else "")
                times.setdefault(name, []).append(_timed(_list_call(conn, where, after, total)))
        times.setdefault("profile_360", []).append(_timed(_profile_call(conn, rng.choice(rows)[0])))
    return {
        kind: {"p50": round(percentile(v, 0.5), 3), "p99": round(percentile(v, 0.99), 3)}
        for kind, v in times.items()
    }


def measure_customers(
    url: str, sizes: tuple[int, ...], samples: int, log: Log
) -> list[dict[str, Any]]:
    """Grow one database through `sizes` customers; measure at each."""
    points = []
    with psycopg.connect(url) as conn:
        create_all(conn)
        conn.commit()
        have = 0
        for size in sizes:
            log(f"scale: generating read-model rows up to {size:,} customers (set-based)")
            began = time.perf_counter()
            grow(conn, have, size)
            generated = time.perf_counter() - began
            have = size
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE rm_customers")
            conn.execute("VACUUM ANALYZE rm_merges")
            conn.execute("VACUUM ANALYZE rm_customer_counts")
            log(f"scale: measuring at {size:,} customers")
            measured = latencies(conn, samples, random.Random(size))
            conn.autocommit = False
            points.append(
                {"customers": size, "generate_seconds": round(generated, 1), "query_ms": measured}
            )
    return points
