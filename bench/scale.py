"""Scale: how disk per event, rebuild time and query latency grow with the store.

One database grows through the bulk path (`bench.history`) to each size of the
series in turn. At each size: the database's bytes (event store and read models
apart) per event, a full rebuild of every projection (seconds), and the p50/p99 of the
gateway's 360° and list read functions called directly on PostgreSQL (the size effect,
without HTTP; the gateway scenario prices HTTP and GraphQL). Sizes past `max_events`
are not measured: the series is fitted (lines in events, latency in log10(events)) and
extrapolated to the issue's 20M events, labelled as such.

Then the customers series (`bench.scale_customers`): list and 360° latency measured at
100k, 300k and 1M customers on read-model rows generated set-based, with the issue's
targets (list p99 < 50 ms at every size and at the largest ≤ 1.5× the smallest; 360°
p99 < 20 ms). That series is measured only, never extrapolated.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from bench.document import Size, now, row, target
from bench.fit import extrapolate_best, extrapolate_linear
from bench.history import EVENTS_PER_CUSTOMER, seed_history
from bench.scale_customers import CUSTOMER_SERIES, measure_customers
from bench.scale_probe import disk_usage, query_latencies
from bench.server import scratch_database
from bootstrap import open_store
from commands.crypto import generate_master_key
from streams.rebuild import rebuild

GOAL_EVENTS = 20_000_000
SERIES = (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000, 20_000_000)

Log = Callable[[str], None]


@dataclass(frozen=True)
class ScaleConfig:
    size: Size
    steps: tuple[int, ...]  # events at each measured point
    samples: int  # read queries per kind and point
    customers: tuple[int, ...] = CUSTOMER_SERIES  # customers at each point of that series

    @classmethod
    def make(cls, size: Size, max_events: int | None = None) -> Any:
        if size == "tiny":
            return cls(size, (300, 900), 20, (1_000, 3_000))
        if size == "quick":
            steps = tuple(s for s in (5_000, 15_000) if s <= (max_events or 15_000))
            return cls(size, steps, 100, (10_000, 30_000, 100_000))
        limit = max_events or 1_000_000
        return cls(size, tuple(s for s in SERIES if s <= limit) or (limit,), 300)


def run_scale(server_url: str, config: ScaleConfig, log: Log) -> dict[str, Any]:
    started = now()
    key = generate_master_key()
    points: list[dict[str, Any]] = []
    with scratch_database(server_url, "bench_scale") as url:
        events = 0
        for step, goal in enumerate(config.steps):
            customers = max(1, (goal - events) // EVENTS_PER_CUSTOMER)
            log(f"scale: growing to ~{goal:,} events ({customers:,} more customers)")
            seeded = seed_history(url, key, customers=customers, seed=100 + step)
            events += seeded.events
            points.append(measure_point(url, key, events, config.samples, log))
            points[-1]["seed_events_per_s"] = round(seeded.events_per_second, 1)
    with scratch_database(server_url, "bench_scale_customers") as url:
        by_customers = measure_customers(url, config.customers, config.samples * 3, log)
    return document(config, points, started, by_customers)


def measure_point(url: str, key: str, events: int, samples: int, log: Log) -> dict[str, Any]:
    app = open_store(url, key, kind="bench")
    try:
        log(f"scale: rebuilding the read models at {events:,} events")
        began = time.perf_counter()
        rebuild(app, url, master_key=key)
        rebuild_seconds = time.perf_counter() - began
    finally:
        app.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum would reach; stable plans and sizes
        disk = disk_usage(conn)
        latencies = query_latencies(conn, samples, random.Random(events))
    return {
        "events": events,
        "customers": disk["customers"],
        "disk_bytes": disk,
        "bytes_per_event": round(disk["database"] / events, 1),
        "store_bytes_per_event": round(disk["event_store"] / events, 1),
        "rebuild_seconds": round(rebuild_seconds, 2),
        "rebuild_events_per_s": round(events / rebuild_seconds, 1),
        "query_ms": latencies,
    }


def extrapolation(points: list[dict[str, Any]]) -> dict[str, Any]:
    xs = [float(p["events"]) for p in points]
    if len(xs) < 2:
        return {}
    reached = int(max(xs))
    out: dict[str, Any] = {
        "basis": "least-squares fit of the measured points",
        "to_events": GOAL_EVENTS,
        "measured_up_to": reached,
    }
    out["bytes_per_event"] = round(
        extrapolate_linear(xs, [p["disk_bytes"]["database"] for p in points], GOAL_EVENTS)
        / GOAL_EVENTS,
        1,
    )
    out["rebuild_seconds"] = round(
        extrapolate_linear(xs, [p["rebuild_seconds"] for p in points], GOAL_EVENTS), 1
    )
    for kind in ("profile_360", "list"):
        ys = [p["query_ms"][kind]["p99"] for p in points]
        # A scan grows in line with the data, an index lookup with the log of it: take
        # the model that fits the points better. Noise can tilt a fit through few points
        # downwards; latency never shrinks with size.
        value, model = extrapolate_best(xs, ys, GOAL_EVENTS)
        out[f"{kind}_p99_ms"] = round(max(value, ys[-1]), 2)
        out[f"{kind}_model"] = model
    return out


LIST_KINDS = ("list_lifecycle", "list_lifecycle_total", "list_tier", "list_tier_total")
LIST_P99_MS = 50.0
LIST_GROWTH = 1.5
PROFILE_P99_MS = 20.0


def customer_rows(points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Summary rows and targets of the customers series (each size measured)."""
    rows, targets = [], {}
    for p in points:
        n, q = p["customers"], p["query_ms"]
        for kind in (*LIST_KINDS, "profile_360"):
            goal = PROFILE_P99_MS if kind == "profile_360" else LIST_P99_MS
            checked = target(goal, q[kind]["p99"], at_most=True)
            targets[f"{kind}_p99_at_{n}"] = checked
            rows.append(
                row(
                    f"{n:,} customers: {kind.replace('_', ' ')}",
                    q[kind]["p99"],
                    "ms p99",
                    p50_ms=q[kind]["p50"],
                    p99_ms=q[kind]["p99"],
                    target=f"< {goal:g} ms",
                    met=checked["met"],
                )
            )
    if len(points) > 1:
        small, large = points[0], points[-1]
        for kind in LIST_KINDS:
            base = small["query_ms"][kind]["p99"]
            growth = large["query_ms"][kind]["p99"] / base if base else 0.0
            checked = target(LIST_GROWTH, growth, at_most=True)
            targets[f"{kind}_growth"] = checked
            rows.append(
                row(
                    f"{kind.replace('_', ' ')}: p99 at {large['customers']:,} / at "
                    f"{small['customers']:,} customers",
                    round(growth, 2),
                    "×",
                    target=f"≤ {LIST_GROWTH}×",
                    met=checked["met"],
                )
            )
    return rows, targets


def document(
    config: ScaleConfig,
    points: list[dict[str, Any]],
    started: str,
    customers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    summary = []
    for p in points:
        q = p["query_ms"]
        summary.append(
            row(f"{p['events']:,} events: disk per event", p["bytes_per_event"], "B/event")
        )
        summary.append(row(f"{p['events']:,} events: full rebuild", p["rebuild_seconds"], "s"))
        summary.append(
            row(
                f"{p['events']:,} events: 360° query",
                q["profile_360"]["p99"],
                "ms p99",
                p50_ms=q["profile_360"]["p50"],
                p99_ms=q["profile_360"]["p99"],
            )
        )
        summary.append(
            row(
                f"{p['events']:,} events: list query",
                q["list"]["p99"],
                "ms p99",
                p50_ms=q["list"]["p50"],
                p99_ms=q["list"]["p99"],
            )
        )
    fitted = extrapolation(points)
    customer_summary, customer_targets = customer_rows(customers or [])
    if fitted:
        label = f"{GOAL_EVENTS:,} events (EXTRAPOLATED)"
        summary.append(row(f"{label}: disk per event", fitted["bytes_per_event"], "B/event"))
        summary.append(row(f"{label}: full rebuild", fitted["rebuild_seconds"], "s"))
        summary.append(row(f"{label}: 360° query", fitted["profile_360_p99_ms"], "ms p99"))
        summary.append(row(f"{label}: list query", fitted["list_p99_ms"], "ms p99"))
    return {
        "benchmark": "scale",
        "size": config.size,
        "config": asdict(config),
        "started_at": started,
        "finished_at": now(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": {"points": points, "extrapolated": fitted, "customers": customers or []},
        "summary": summary + customer_summary,
        "targets": customer_targets,
    }
