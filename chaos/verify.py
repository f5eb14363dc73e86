"""After the faults: every accepted write exactly once in the store, the read models and
analytics; `crm check` and `crm audit verify`; the parking lot. Each check returns what
it found, and the list of what is wrong (empty when it holds)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from eventsourcing.utils import get_topic

from chaos.inject import Injected
from chaos.load import Ledger
from chaos.running import clean_env, crm_argv
from commands.application import CrmApplication
from events import CustomerRegistered, PurchaseRecorded

Orders = Counter[str]  # order id -> how many times it was recorded


@dataclass
class Tally:
    """One copy of the data, measured against the ledger."""

    name: str
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0  # orders nobody accepted
    wrong_totals: int = 0  # customers whose purchase total differs from the ledger
    problems: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.wrong_totals)


def tally(name: str, ledger: Ledger, orders: Orders, totals: dict[str, Decimal]) -> Tally:
    result = Tally(name)
    accepted = set(ledger.purchases)
    result.lost = len(accepted - set(orders))
    result.duplicated = sum(n - 1 for o, n in orders.items() if o in accepted and n > 1)
    result.unexpected = len(set(orders) - accepted)
    expected = ledger.totals()
    for customer in set(expected) | set(totals):
        if expected.get(customer, Decimal(0)) != totals.get(customer, Decimal(0)):
            result.wrong_totals += 1
    if not result.exact:
        result.problems.append(
            f"{name}: lost {result.lost}, duplicated {result.duplicated}, "
            f"unexpected {result.unexpected}, wrong totals {result.wrong_totals}"
        )
    return result


def _store_notifications(app: CrmApplication, cls: type) -> Iterable[Any]:
    position = 0
    while page := app.recorder.select_notifications(
        start=position, limit=5000, topics=[get_topic(cls)], inclusive_of_start=False
    ):
        yield from page
        position = page[-1].id


def store_tally(app: CrmApplication, ledger: Ledger) -> Tally:
    orders: Orders = Counter()
    totals: dict[str, Decimal] = {}
    for n in _store_notifications(app, PurchaseRecorded):
        state = app.crm_mapper.decode_state(n, cls=PurchaseRecorded, redact=True)
        orders[str(state["order_id"])] += 1
        who = str(n.originator_id)
        totals[who] = totals.get(who, Decimal(0)) + Decimal(str(state["total_cny"]))
    result = tally("store", ledger, orders, totals)
    registered = Counter(
        str(n.originator_id) for n in _store_notifications(app, CustomerRegistered)
    )
    missing = set(ledger.customers) - set(registered)
    twice = [c for c, k in registered.items() if k > 1]
    if missing or twice:
        result.lost += len(missing)
        result.duplicated += len(twice)
        result.problems.append(f"store: customers lost {len(missing)}, twice {len(twice)}")
    return result


def read_model_tally(database_url: str, ledger: Ledger) -> Tally:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT customer_id, order_id, total_cny FROM rm_purchases").fetchall()
    return _rows_tally("read models", ledger, rows)


def analytics_tally(catalog: Path, ledger: Ledger) -> Tally:
    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute(
            "SELECT customer_id, order_id, order_total_cny FROM purchases WHERE line_no = 1"
        ).fetchall()
    return _rows_tally("analytics", ledger, rows)


def _rows_tally(name: str, ledger: Ledger, rows: Iterable[tuple[Any, Any, Any]]) -> Tally:
    orders: Orders = Counter()
    totals: dict[str, Decimal] = {}
    for customer, order, total in rows:
        orders[str(order)] += 1
        totals[str(customer)] = totals.get(str(customer), Decimal(0)) + Decimal(str(total))
    return tally(name, ledger, orders, totals)


def settled(measure: Callable[[], Tally], timeout: float) -> Tally:
    """The copy's tally once it is exact, or the last one after `timeout` (it may lag)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = measure()
        except (psycopg.Error, duckdb.Error) as error:
            result = Tally("unreadable", problems=[f"unreadable: {error}"])
        if result.exact or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@dataclass(frozen=True)
class CliResult:
    argv: list[str]
    code: int
    tail: str
    stdout: str

    def as_dict(self) -> dict[str, Any]:
        return {"command": " ".join(self.argv), "exit": self.code, "tail": self.tail}


def crm(data_dir: Path, *args: str, timeout: float = 300.0) -> CliResult:
    """A `crm` verb against the running platform (it finds it by `endpoints.json`)."""
    argv = [*args, "--data-dir", str(data_dir)]
    done = subprocess.run(
        crm_argv(*argv), env=clean_env(), capture_output=True, text=True, timeout=timeout
    )
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
    return CliResult(["crm", *argv], done.returncode, tail, done.stdout)


def _worker(group: str) -> str:
    """`crm-analytics-g2` → `crm-analytics`: the worker, whatever the log's generation."""
    return re.sub(r"-g[0-9]+$", "", group)


def parked_problems(data_dir: Path, injected: list[Injected]) -> tuple[list[Any], list[str]]:
    """(parked rows, problems): every parked message must be one we injected, and each
    injected one parked (by every worker group: the same offsets)."""
    listed = crm(data_dir, "parked", "list", "--json", timeout=60)
    if listed.code != 0:
        return [], [f"`crm parked list --json` failed: {listed.tail}"]
    rows = json.loads(listed.stdout)
    parked = {(r["topic"], int(r["partition"]), int(r["offset"])) for r in rows}
    wanted = {(i.topic, i.partition, i.offset) for i in injected}
    problems = []
    if parked - wanted:
        problems.append(f"parked but not injected: {sorted(parked - wanted)}")
    if wanted - parked:
        problems.append(f"injected but not parked: {sorted(wanted - parked)}")
    workers = {str(r["group"]).split("-g")[0] for r in rows}
    for i in injected:
        by = {
            str(r["group"]).split("-g")[0]
            for r in rows
            if (r["topic"], int(r["partition"]), int(r["offset"]))
            == (i.topic, i.partition, i.offset)
        }
        if rows and by != workers:
            problems.append(f"{i.kind} parked by {sorted(by)} only, not by {sorted(workers - by)}")
    return rows, problems
