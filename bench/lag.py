"""Commit → read-model lag at a fixed offered rate.

A writer records contact touches at `rate` events/s through the command service (small
`handle_many` transactions every `tick`, as a busy gateway's group commit would), while
the real `crm relay` and `crm worker projections` carry them to the read models. A
poller looks, every `POLL` seconds, for the writer's positions in `rm_timeline` (the
worker applies a batch to every read model in one transaction, so a timeline row that
is visible means the whole event is). Lag of an event = first poll that saw it − the
moment its commit returned; the poll interval bounds the error.

The writer is not the gateway: on two cores the gateway cannot offer 1,000 mutations/s
(see the end-to-end throughput), and the lag is a property of relay + broker + worker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.stats import percentile
from bootstrap import command_service, open_store
from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer

POLL = 0.005
ACTOR = "bench-lag"


@dataclass
class Pending:
    """Positions written and not yet seen, with when their commit returned."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: dict[int, float] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    last_seen: float = 0.0
    relayed_at: dict[int, float] = field(default_factory=dict)
    relay_lags: list[float] = field(default_factory=list)

    def relayed(self, upto: int, at: float) -> None:
        """The relay's bookmark reached `upto`: those events are on the topic (acked)."""
        with self.lock:
            for position in self.waiting:
                if position <= upto:
                    self.relayed_at.setdefault(position, at)

    def add(self, positions: list[int], committed: float) -> None:
        with self.lock:
            for position in positions:
                self.waiting[position] = committed

    def snapshot(self) -> list[int]:
        with self.lock:
            return list(self.waiting)

    def seen(self, positions: list[int], at: float) -> None:
        with self.lock:
            for position in positions:
                committed = self.waiting.pop(position, None)
                if committed is not None:
                    self.lags.append(at - committed)
                    self.relay_lags.append(self.relayed_at.pop(position, at) - committed)
                    self.last_seen = at


def _poll(database_url: str, pending: Pending, stop: threading.Event) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not stop.is_set():
            wanted = pending.snapshot()
            if wanted:
                bookmark = conn.execute("SELECT max(position) FROM crm_relay_progress").fetchone()
                pending.relayed(int(bookmark[0] or 0) if bookmark else 0, time.perf_counter())
                rows = conn.execute(
                    "SELECT position FROM rm_timeline WHERE position = ANY(%s)", (wanted,)
                ).fetchall()
                pending.seen([int(r[0]) for r in rows], time.perf_counter())
            time.sleep(POLL)


def wait_visible(database_url: str, position: int, timeout: float) -> None:
    """Until the read models hold `position` (the worker has joined and caught up)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute("SELECT to_regclass('rm_timeline') IS NOT NULL").fetchone()
            if found and found[0]:
                row = conn.execute(
                    "SELECT 1 FROM rm_timeline WHERE position = %s", (position,)
                ).fetchone()
                if row:
                    return
            time.sleep(0.1)
    raise TimeoutError(f"position {position} not in the read models after {timeout:.0f}s")


def measure_lag(
    database_url: str,
    master_key: str,
    *,
    rate: float,
    seconds: float,
    customers: int = 200,
    tick: float = 0.02,
    drain_timeout: float = 60.0,
) -> dict[str, Any]:
    """Offer `rate` events/s for `seconds`; lag percentiles of every event in ms."""
    app = open_store(database_url, master_key, kind="bench")
    service = command_service(app)
    context = CommandContext(actor=ACTOR)
    pending = Pending()
    stop = threading.Event()
    try:
        registered = service.handle_many(
            [RegisterCustomer(name=f"滞后测试{n}") for n in range(customers)], context
        )
        ids = [r.customer_id for r in registered]
        wait_visible(database_url, max(r.position or 0 for r in registered), timeout=120)
        poller = threading.Thread(target=_poll, args=(database_url, pending, stop), daemon=True)
        poller.start()
        written, began = 0, time.perf_counter()
        first_commit = 0.0
        while (now := time.perf_counter()) - began < seconds:
            due = int((now - began) * rate) - written  # catch up if a tick ran late
            if due > 0:
                batch = [
                    RecordContactTouch(customer_id=ids[(written + i) % customers], channel="PHONE")
                    for i in range(due)
                ]
                results = service.handle_many(batch, context)
                committed = time.perf_counter()
                first_commit = first_commit or committed
                pending.add([r.position for r in results if r.position], committed)
                written += due
            time.sleep(max(0.0, tick - (time.perf_counter() - now)))
        offered_seconds = time.perf_counter() - began
        deadline = time.monotonic() + drain_timeout
        while pending.snapshot() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        app.close()
    lags, relay_lags = pending.lags, pending.relay_lags
    carried = pending.last_seen - first_commit
    return {
        "offered_rate": rate,
        "achieved_rate": round(written / offered_seconds, 1) if offered_seconds else 0.0,
        "events": written,
        "seen": len(lags),
        # What relay + broker + worker carried: below the offered rate, lag grows all run.
        "carried_rate": round(len(lags) / carried, 1) if carried > 0 else 0.0,
        "unseen": len(pending.waiting),
        "poll_interval_ms": POLL * 1000,
        "lag_ms": {
            "p50": round(percentile(lags, 0.5) * 1000, 1),
            "p99": round(percentile(lags, 0.99) * 1000, 1),
            "max": round(max(lags, default=0.0) * 1000, 1),
        },
        # Of which: commit → the relay's bookmark (published and acknowledged).
        "relay_lag_ms": {
            "p50": round(percentile(relay_lags, 0.5) * 1000, 1),
            "p99": round(percentile(relay_lags, 0.99) * 1000, 1),
        },
    }
