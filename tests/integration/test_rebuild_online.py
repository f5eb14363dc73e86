"""A full rebuild while the platform serves: shadow tables, parallel workers, the swap.

Afterwards the read models equal a clean one-pass replay of the whole store, whatever a
live processor applied meanwhile; a failure before the swap leaves the serving tables as
they were, and a re-run completes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psutil
import psycopg
import pytest

import streams.rebuild_workers
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    CommandContext,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
)
from commands.service import CommandService
from projections.schema import ALL_TABLES, PAYLOAD_COLUMNS
from streams.rebuild import rebuild, rebuild_in_place
from streams.rebuild_shadow import ADVISORY_LOCK, SHADOW, RebuildBusy
from streams.rebuild_workers import RebuildFailed
from streams.sink import ReadModelSink
from streams.source import EventSource
from tests.integration.support.streaming import read_model_snapshot
from tests.integration.test_rebuild import make_history

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="online-rebuild-test")


@pytest.fixture
def key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=key, pool_size=4)
    yield application
    application.close()


def more_history(service: CommandService, n: int) -> None:
    customer_id = service.handle(
        RegisterCustomer(name=f"Live {n}", email=f"live{n}@example.com"), CTX
    ).customer_id
    service.handle(RecordContactTouch(customer_id=customer_id, channel="PHONE"), CTX)
    service.handle(
        RecordPurchase(
            customer_id=customer_id,
            order_id=f"L-{n}",
            lines=(PurchaseLineInput(sku="S", quantity=1, unit_price=Decimal("10")),),
        ),
        CTX,
    )


class LivePlatform:
    """Commands recorded and a live processor applying them, on a thread, until stopped."""

    def __init__(self, app: CrmApplication, database_url: str) -> None:
        self.service = CommandService(app)
        self.source = EventSource(app)
        self.sink = ReadModelSink(app, database_url)
        self.position = 0
        self.applied_during = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def drain(self) -> int:
        """Apply what was recorded after the last delivered position, like Kafka would."""
        applied = 0
        while True:
            batch = self.source.read_after(self.position, 50)
            if not batch.envelopes:
                return applied
            applied += self.sink(batch.envelopes).applied
            self.position = batch.last_position

    def _run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                more_history(self.service, n)
                n += 1
                self.applied_during += self.drain()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def __enter__(self) -> LivePlatform:
        self.drain()
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        try:
            self.drain()
        finally:
            self.sink.close()


def store_size(app: CrmApplication) -> int:
    return app.recorder.max_notification_id() or 0


def shadow_exists(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT to_regnamespace(%s)", [SHADOW]).fetchone()
    return bool(row and row[0])


def test_parallel_rebuild_while_a_processor_applies_equals_a_one_pass_replay(
    app: CrmApplication, database_url: str, key: str
) -> None:
    make_history(CommandService(app))
    with LivePlatform(app, database_url) as live:
        before = store_size(app)
        replayed = rebuild(app, database_url, workers=2, master_key=key, batch_size=7)
        after = store_size(app)
    assert live.error is None
    assert live.applied_during > 0, "the processor applied events during the rebuild"
    assert before <= replayed <= after, "the rebuild caught up with what came meanwhile"
    assert not shadow_exists(database_url)
    online = read_model_snapshot(database_url)

    rebuild_in_place(app, database_url)  # one transaction, one pass over the store
    assert read_model_snapshot(database_url) == online
    timeline = {row[0] for row in online["rm_timeline"]}
    with psycopg.connect(database_url) as conn:
        recorded = {r[0] for r in conn.execute("SELECT notification_id FROM stored_events")}
    assert timeline == recorded, "every event in the read models, none lost"


def test_a_worker_failing_leaves_the_serving_tables_and_a_rerun_completes(
    app: CrmApplication, database_url: str, key: str
) -> None:
    make_history(CommandService(app))
    rebuild_in_place(app, database_url)
    serving = read_model_snapshot(database_url)

    # A worker with another master key cannot open any customer's key: it raises.
    with pytest.raises(RebuildFailed, match="exited"):
        rebuild(app, database_url, workers=2, master_key=generate_master_key())
    assert read_model_snapshot(database_url) == serving
    assert shadow_exists(database_url), "the half-filled shadow is left for the re-run"

    assert rebuild(app, database_url, workers=2, master_key=key) == store_size(app)
    assert read_model_snapshot(database_url) == serving
    assert not shadow_exists(database_url)


def test_a_crash_mid_replay_in_process_leaves_the_serving_tables(
    app: CrmApplication, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history(CommandService(app))
    rebuild_in_place(app, database_url)
    serving = read_model_snapshot(database_url)
    real_write = streams.rebuild_workers.write_window
    calls = 0

    def crashing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("crash mid-rebuild")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(streams.rebuild_workers, "write_window", crashing)
    with pytest.raises(RuntimeError, match="crash mid-rebuild"):
        rebuild(app, database_url, batch_size=5)
    assert read_model_snapshot(database_url) == serving

    monkeypatch.setattr(streams.rebuild_workers, "write_window", real_write)
    rebuild(app, database_url, batch_size=5)
    assert read_model_snapshot(database_url) == serving


def test_a_second_full_rebuild_at_once_is_refused(app: CrmApplication, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK])
        with pytest.raises(RebuildBusy, match="another"):
            rebuild(app, database_url)


def test_grants_on_the_serving_tables_carry_over(app: CrmApplication, database_url: str) -> None:
    make_history(CommandService(app))
    rebuild(app, database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON rm_customers TO PUBLIC")
    rebuild(app, database_url)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT has_table_privilege('public', 'rm_customers', 'SELECT')"
        ).fetchone()
    assert row and row[0]


def test_a_worker_killed_leaves_the_serving_tables_and_a_rerun_completes(
    app: CrmApplication, database_url: str, key: str
) -> None:
    make_history(CommandService(app))
    rebuild_in_place(app, database_url)
    serving = read_model_snapshot(database_url)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            rebuild(app, database_url, workers=2, master_key=key)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    while not (workers := multiprocessing.active_children()):
        thread.join(0.01)  # the rebuild starts its workers from this process
    os.kill(workers[0].pid or 0, signal.SIGKILL)
    thread.join()
    assert outcome and isinstance(outcome[0], RebuildFailed), outcome
    assert read_model_snapshot(database_url) == serving

    rebuild(app, database_url, workers=2, master_key=key)
    assert read_model_snapshot(database_url) == serving
    assert not shadow_exists(database_url)


CALLER = """
import os
from commands.application import CrmApplication
from streams.rebuild import rebuild

url, key = os.environ["REBUILD_URL"], os.environ["REBUILD_KEY"]
rebuild(CrmApplication(url, master_key=key, pool_size=2), url, workers=2, master_key=key,
        batch_size=1)
"""


def shadow_rows(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        if not shadow_exists(database_url):
            return 0
        row = conn.execute(f"SELECT count(*) FROM {SHADOW}.rm_timeline").fetchone()
        return int(row[0]) if row else 0


def test_the_caller_killed_mid_replay_leaves_no_worker_behind(
    app: CrmApplication, database_url: str, key: str
) -> None:
    """kill -9 of the process that runs the rebuild: its workers (children of a fork
    server, not of the caller) notice, between batches or between the rounds, and end."""
    service = CommandService(app)
    for n in range(150):
        more_history(service, n)
    rebuild_in_place(app, database_url)
    serving = read_model_snapshot(database_url)
    env = {**os.environ, "REBUILD_URL": database_url, "REBUILD_KEY": key}
    caller = subprocess.Popen([sys.executable, "-c", CALLER], env=env)
    try:
        deadline = time.monotonic() + 60
        while shadow_rows(database_url) == 0:
            assert caller.poll() is None, "the rebuild ended before it could be killed"
            assert time.monotonic() < deadline, "the workers never wrote the shadow"
            time.sleep(0.02)
        descendants = psutil.Process(caller.pid).children(recursive=True)
        assert len(descendants) >= 2, descendants
        caller.kill()
        caller.wait()
        _, alive = psutil.wait_procs(descendants, timeout=30)
    finally:
        if caller.poll() is None:
            caller.kill()
    assert alive == [], f"left running after their caller died: {alive}"
    events = len(serving["rm_timeline"])
    assert shadow_rows(database_url) < events / 2, "the workers stopped at their next batch"
    assert read_model_snapshot(database_url) == serving

    rebuild(app, database_url, workers=2, master_key=key)
    assert read_model_snapshot(database_url) == serving


def analyze_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables"
            " WHERE schemaname = current_schema() AND relname = ANY(%s)",
            [list(ALL_TABLES)],
        ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_swapped_in_tables_come_with_statistics(
    app: CrmApplication, database_url: str, key: str, workers: int
) -> None:
    """Tables filled by COPY have no statistics until someone analyzes them: the
    materialize round and every read after the swap would be planned blind."""
    make_history(CommandService(app))
    rebuild(app, database_url, workers=workers, master_key=key)
    expected = dict.fromkeys(ALL_TABLES, 1)
    deadline = time.monotonic() + 10  # the server publishes its counters within ~1 s
    while (counts := analyze_counts(database_url)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert counts == expected, "each table analyzed once, before the swap"
    with psycopg.connect(database_url, autocommit=True) as conn:
        stats = set(
            conn.execute(
                "SELECT tablename, attname FROM pg_stats WHERE schemaname = current_schema()"
            ).fetchall()
        )
    payload = {(t, c) for t, columns in PAYLOAD_COLUMNS.items() for c in columns}
    assert stats & payload == set(), "shown-only columns carry no planner statistics"
    assert {("rm_timeline", "customer_id"), ("rm_customers", "tier")} <= stats


def test_counters_still_follow_writes_after_the_swap(
    app: CrmApplication, database_url: str, key: str
) -> None:
    """The swap moves the shadow's tables into service; their counter triggers must call
    functions that survive the shadow schema's drop, or every later write goes uncounted."""
    service = CommandService(app)
    make_history(service)
    sink = ReadModelSink(app, database_url)  # running before the swap, as a live worker is
    source = EventSource(app)
    rebuild(app, database_url, workers=2, master_key=key)
    try:
        with psycopg.connect(database_url) as conn:
            before = count_all(conn)
        start = store_size(app)
        service.handle(RegisterCustomer(name="After the swap"), CTX)
        sink(source.read_after(start, 100).envelopes)
        with psycopg.connect(database_url) as conn:
            assert count_all(conn) == before + 1
            triggers = conn.execute(
                "SELECT count(*) FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE t.tgrelid = 'rm_customers'::regclass AND n.nspname = current_schema()"
            ).fetchone()
            assert triggers and triggers[0] == 4
    finally:
        sink.close()


def count_all(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(n), 0) FROM rm_customer_counts WHERE dimension = 'all'"
    ).fetchone()
    return int(row[0]) if row else 0


def test_preparing_the_shadow_takes_no_lock_on_serving_tables_being_written(
    app: CrmApplication, database_url: str
) -> None:
    """A live batch holds ROW EXCLUSIVE on rm_customers (and may ask for more): the
    rebuild's preparation must not queue an ACCESS EXCLUSIVE lock behind it (a `CREATE …
    IF NOT EXISTS` or `ALTER … IF NOT EXISTS` on a serving table would), or the two can
    deadlock (seen once in a full CI run)."""
    from streams.rebuild_shadow import drop_shadow, prepare_shadow

    make_history(CommandService(app))
    ReadModelSink(app, database_url).close()  # the serving tables, as a worker makes them
    with psycopg.connect(database_url) as batch, psycopg.connect(database_url) as rebuilding:
        batch.execute("LOCK TABLE rm_customers IN ROW EXCLUSIVE MODE")
        rebuilding.execute("SET lock_timeout = '2s'")
        prepare_shadow(rebuilding)  # LockNotAvailable here if it locked rm_customers
        shadow = rebuilding.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [SHADOW]
        ).fetchone()
        assert shadow is not None and shadow[0] > 10  # the shadow was still made whole
        batch.rollback()
        drop_shadow(rebuilding)
