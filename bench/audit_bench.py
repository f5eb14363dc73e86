"""``crm audit bench``: the compliance reads at scale (a benchmark, not a test).

1. Chain verification rate: a store of `events` events (customers of 100 events each:
   registration, then sealed contact touches), written through the real recorder (so
   every event is chained in its transaction), then `verify_chain` over all of it,
   median of `repeats` runs. Target: at least 100,000 events/s.
2. As-of latency: one customer with `customer_events` events (snapshots every 50, the
   default), `state_as_of` at random moments of its history, p50 and p95 over
   `samples` moments, for both time bases. Target: under 100 ms.

Results go to ``bench/results/<UTC stamp>-audit.json`` and are printed as a table.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from rich.console import Console
from rich.table import Table

from aggregates.customer import Customer
from bench.stats import percentile
from bootstrap import open_store
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.effects import derive_effects
from commands.recorder import WriteEffects
from compliance.audit import replay, state_as_of
from compliance.verify import verify_chain

VERIFY_TARGET = 100_000.0
AS_OF_TARGET_MS = 100.0
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditBenchConfig:
    events: int
    customer_events: int
    per_customer: int = 100
    batch_events: int = 10_000
    repeats: int = 3
    samples: int = 50
    quick: bool = False

    @classmethod
    def make(cls, *, quick: bool, events: int, customer_events: int) -> AuditBenchConfig:
        if quick:
            return cls(events=5_000, customer_events=500, repeats=2, samples=10, quick=True)
        return cls(events=events, customer_events=customer_events)


def _save(app: CrmApplication, customers: list[Customer]) -> None:
    effects = WriteEffects(actor="bench", correlation_id=uuid4(), default_command="Bench")
    events = [e for c in customers for e in c.pending_events]
    ciphers = derive_effects(app, events, effects)
    app.record(events, aggregates=customers, effects=effects, new_ciphers=ciphers)


def _customer(index: int, events: int, spacing: timedelta) -> Customer:
    customer = Customer.register(
        customer_id=uuid4(),
        name=f"Bench Customer {index}",
        email=f"bench{index}@example.com",
        at=START,
    )
    for n in range(1, events):
        customer.record_touch(
            channel="PHONE",
            summary=f"call {n} about the order",
            outcome="OK",
            at=START + spacing * n,
        )
    return customer


def load_store(
    app: CrmApplication,
    total: int,
    per_customer: int,
    batch_events: int,
    log: Callable[[str], None],
) -> float:
    """Write `total` events through the recorder; returns events/s of the load."""
    began = time.perf_counter()
    written = 0
    index = 0
    while written < total:
        batch: list[Customer] = []
        size = 0
        while size < batch_events and written + size < total:
            events = min(per_customer, total - written - size)
            batch.append(_customer(index, events, timedelta(hours=1)))
            index += 1
            size += events
        _save(app, batch)
        written += size
        if written % (batch_events * 20) < batch_events:
            log(f"loaded {written:,} of {total:,} events")
    return written / (time.perf_counter() - began)


def load_long_customer(app: CrmApplication, events: int) -> UUID:
    """One customer with `events` events, 50 per save (so a snapshot every 50, as one
    command per event would give), spread over a year."""
    spacing = timedelta(days=365) / max(events, 1)
    customer = Customer.register(
        customer_id=uuid4(), name="Long History", email="long@example.com", at=START
    )
    _save(app, [customer])
    done = 1
    while done < events:
        step = min(50, events - done)
        for n in range(done, done + step):
            customer.record_touch(channel="EMAIL", summary=f"mail {n}", at=START + spacing * n)
        _save(app, [customer])
        done += step
    return customer.id


def run_audit_bench(
    database_url: str | None, config: AuditBenchConfig, out_dir: Path, console: Console
) -> Path:
    """`crm audit bench`: measure on the configured or a throwaway server, write, print."""
    from bench.server import bench_server

    def log(message: str) -> None:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")

    with bench_server(database_url) as server:
        result = measure_audit(server, config, log)
    path = _write(result, out_dir)
    console.print(_table(result))
    console.print(f"results: {path}")
    return path


def measure_audit(
    server: str, config: AuditBenchConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    """Verify rate and as-of latency in a scratch database on `server` (also the
    `compliance` scenario of `crm bench all`)."""
    from bench.server import scratch_database, server_version

    load_before = os.getloadavg()
    with scratch_database(server, "audit") as url:
        app = open_store(url, generate_master_key(), kind="bench", pool_size=4)
        try:
            log(f"loading {config.events:,} events through the recorder")
            load_rate = load_store(
                app, config.events, config.per_customer, config.batch_events, log
            )
            tables = app.crm_recorder.chain_tables
            verify_runs = []
            for run in range(config.repeats):
                report = verify_chain(url, tables)
                assert report.ok, report.broken
                verify_runs.append(report.rate)
                log(f"verify run {run + 1}: {report.checked:,} events, {report.rate:,.0f}/s")
            log(f"loading one customer with {config.customer_events:,} events")
            cid = load_long_customer(app, config.customer_events)
            as_of = {
                basis: _as_of_latencies(app, cid, config, basis)
                for basis in ("business", "recorded")
            }
            began = time.perf_counter()
            steps = replay(app, cid)
            replay_seconds = time.perf_counter() - began
        finally:
            app.close()
    postgres = server_version(server)
    result: dict[str, Any] = {
        "benchmark": "audit",
        "quick": config.quick,
        "config": asdict(config),
        "machine": {
            "cpus": os.cpu_count(),
            "postgres": postgres,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "results": {
            "load_events_per_s": round(load_rate),
            "verify_events_per_s": {
                "median": round(statistics.median(verify_runs)),
                "runs": [round(r) for r in verify_runs],
            },
            "as_of_ms": as_of,
            "replay_customer": {"events": len(steps), "seconds": round(replay_seconds, 3)},
        },
    }
    verify_rate = statistics.median(verify_runs)
    result["targets"] = {
        "verify_events_per_s": {
            "target": VERIFY_TARGET,
            "measured": round(verify_rate),
            "met": verify_rate >= VERIFY_TARGET,
        },
        "as_of_p95_ms": {
            "target": AS_OF_TARGET_MS,
            "measured": as_of["business"]["p95"],
            "met": as_of["business"]["p95"] < AS_OF_TARGET_MS,
        },
    }
    return result


def _as_of_latencies(
    app: CrmApplication, cid: UUID, config: AuditBenchConfig, basis: str
) -> dict[str, Any]:
    """Random moments of the customer's year. In recorded time the whole history was
    written within the load, so moments are drawn from the load's own time span."""
    rng = random.Random(11)
    latencies = []
    low, high = _span(app, cid, basis)
    for _ in range(config.samples):
        at = low + (high - low) * rng.random()
        began = time.perf_counter()
        found = state_as_of(app, cid, at, basis=basis)  # type: ignore[arg-type]
        latencies.append((time.perf_counter() - began) * 1000)
        assert found is not None
    return {
        "p50": round(percentile(latencies, 0.5), 2),
        "p95": round(percentile(latencies, 0.95), 2),
        "max": round(max(latencies), 2),
        "samples": len(latencies),
    }


def _span(app: CrmApplication, cid: UUID, basis: str) -> tuple[datetime, datetime]:
    if basis == "business":
        return START, START + timedelta(days=365)
    with app.crm_recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(
            "SELECT min(m.recorded_at) AS low, max(m.recorded_at) AS high FROM stored_events e "
            "JOIN crm_event_meta m ON m.position = e.notification_id WHERE e.originator_id = %s",
            (cid,),
        )
        row = curs.fetchone()
    assert row is not None
    return row["low"], row["high"]


def _write(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"{stamp}-audit.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def _table(result: dict[str, Any]) -> Table:
    results = result["results"]
    view = Table(title=f"crm audit bench ({'quick' if result['quick'] else 'full'})")
    for column in ("measurement", "value", "target"):
        view.add_column(column)
    view.add_row(
        "verify (events/s, median)",
        f"{results['verify_events_per_s']['median']:,}",
        f">= {VERIFY_TARGET:,.0f}",
    )
    for basis, stats in results["as_of_ms"].items():
        view.add_row(
            f"as-of {basis} time (ms p50 / p95)",
            f"{stats['p50']} / {stats['p95']}",
            f"< {AS_OF_TARGET_MS:.0f}",
        )
    view.add_row("load through the recorder (events/s)", f"{results['load_events_per_s']:,}", "")
    replayed = results["replay_customer"]
    view.add_row(
        f"replay of that customer ({replayed['events']:,} events, s)",
        str(replayed["seconds"]),
        "",
    )
    return view
