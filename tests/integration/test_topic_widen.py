"""Issue 18 item 3: `crm topic widen` on a live topic, under load, on the real servers.

A relay and two projection workers (one consumer group, a partition each) run on a
2-partition topic while three threads write touches to twelve customers. Mid-load the test
holds each partition's customers back by locking their projection checkpoints in
PostgreSQL (`rm_applied`, which every batch locks first): the workers stay members of
their group, fetching, but apply nothing, so both partitions of the old topic have a
backlog when `crm topic widen --partitions 6` cuts over to `<topic>.p6`. The writes go on;
then one partition's customers are let go first. Its worker reads its partition to the
cut and must wait there: nothing after the cut may be applied while the other partition
still has events before it. Then the rest are let go. Checked: every event reached the
read models exactly once; each customer's events were applied in the order they were
written (the rows of one customer were written by transactions in position order: their
`xmin` never goes down as the position goes up); events up to the cut are on the old
topic and every later one on the new topic, which has 6 partitions and which both
workers read now, in a consumer group of its own, without a restart. A small loop
restarts a worker that exits anyway, as `crm up` does, and the test checks that none did.

(An earlier version stopped the workers with SIGSTOP instead. A member stopped past its
2 s session is dropped by the broker, so every run also tested the group's hand-over of
a dead member's partition; in full CI runs that hand-over stalled in faust or the
broker 3 times in 5, before any widening. Dead members are the failover tests' subject;
this one keeps the cut's own question apart: docs/streams.md, "Widening a live topic".)
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from kafka import KafkaConsumer

from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from ops.embedded.kafka import EmbeddedKafka, stop_kafka
from ops.stack import crm_command
from streams.envelope import decode
from streams.processor import EXIT_BROKER_LOST
from streams.topic import ensure_topic, partition_count
from streams.topic_cuts import load_cuts
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import start_worker, stop
from tests.integration.support.waiting import wait_for
from tests.integration.test_processors import wait_applied
from tests.integration.test_relay import consume_all
from tests.integration.test_relay_failover import bookmark

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="widen-test")
CUSTOMERS = 12
WRITERS = 3


class Restarting:
    """Worker processes restarted when they exit, as `crm up` does (exit 75: at once)."""

    def __init__(
        self,
        start: Callable[[int, int], subprocess.Popen[bytes]],
        count: int,
        joined: Callable[[int], bool],
    ) -> None:
        self.start = start
        self.processes = []
        for slot in range(count):  # one by one: two first starts race to create the tables
            self.processes.append(self._spawn(slot, 0))
            self._wait_joined(slot, joined)
        self.exits: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _wait_joined(self, slot: int, joined: Callable[[int], bool]) -> None:
        process = self.processes[slot]
        wait_for(lambda: process.poll() is not None or joined(slot), timeout=120)

    def _spawn(self, slot: int, n: int) -> subprocess.Popen[bytes]:
        return self.start(slot, n)

    def _watch(self) -> None:
        runs = 0
        while not self.stopped.is_set():
            for slot, process in enumerate(self.processes):
                code = process.poll()
                if code is not None and not self.stopped.is_set():
                    self.exits.append(code)
                    runs += 1
                    self.processes[slot] = self._spawn(slot, runs)
            time.sleep(0.1)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for process in self.processes:
            stop(process)


def timeline_rows(database_url: str, up_to: int | None = None) -> int:
    """Events in the read models' timeline (those at or below `up_to`, if given)."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM rm_timeline WHERE position <= %s", (up_to or 2**62,)
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


class Held:
    """Customers whose events no projection batch can apply while held: their checkpoint
    rows (`rm_applied`, locked first by every batch) are locked in an open transaction.
    The worker with such a batch waits in PostgreSQL, still a member of its group."""

    def __init__(self, database_url: str, customers: list[UUID]) -> None:
        self.conn = psycopg.connect(database_url)
        rows = self.conn.execute(
            "SELECT subject_id FROM rm_applied WHERE subject_id = ANY(%s) FOR UPDATE",
            (customers,),
        ).fetchall()
        assert {row[0] for row in rows} == set(customers), "every held customer has checkpoints"

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def checkpointed(database_url: str, customers: list[UUID]) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT subject_id) FROM rm_applied WHERE subject_id = ANY(%s)",
            (customers,),
        ).fetchone()
    return row is not None and row[0] == len(customers)


def applied_of(database_url: str, customers: list[UUID], up_to: int) -> int:
    """Timeline rows of these customers at or below `up_to`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM rm_timeline WHERE customer_id = ANY(%s) AND position <= %s",
            (customers, up_to),
        ).fetchone()
    return int(row[0]) if row else 0


def recorded_of(database_url: str, customers: list[UUID], up_to: int) -> int:
    """Events recorded for these customers at or below position `up_to`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM stored_events WHERE originator_id = ANY(%s) "
            "AND notification_id <= %s",
            (customers, up_to),
        ).fetchone()
    return int(row[0]) if row else 0


def on_partitions(bootstrap: str, topic: str, customers: list[UUID]) -> dict[int, list[UUID]]:
    """The customers on each partition of `topic` (messages are keyed by customer id)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    found: dict[UUID, int] = {}
    try:
        for message in consumer:
            found.setdefault(UUID(message.key.decode()), message.partition)
            if all(c in found for c in customers):
                break
    finally:
        consumer.close()
    by_partition: dict[int, list[UUID]] = defaultdict(list)
    for customer in customers:
        by_partition[found[customer]].append(customer)
    return dict(by_partition)


@pytest.fixture
def own_broker(servers: ServerSet, tmp_path: Path) -> Iterator[ServerSet]:
    """The session's servers with an embedded broker of this test's own (when the session's
    is embedded too): the heaviest group churn of the suite stays off the shared broker, and
    the broker's log stays in tmp_path. Once, late in a full run, the shared broker stopped
    accepting connections while this test's first worker joined (its process alive)."""
    if not any(name == "kafka" for name, _ in servers._processes):
        yield servers  # an external cluster (CRM_KAFKA_BOOTSTRAP): use it
        return
    kafka = EmbeddedKafka(log_path=tmp_path / "tansu.log")
    process = kafka.start()
    try:
        yield ServerSet(servers.database_url, kafka.bootstrap)
    finally:
        stop_kafka(process)


@pytest.mark.timeout(600)  # group rebalances take most of it; 2-5 min on the shared machine
def test_widening_a_live_topic_under_load_loses_and_reorders_nothing(
    own_broker: ServerSet,
    app: object,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    servers = own_broker
    bootstrap = servers.kafka_bootstrap
    ensure_topic(bootstrap, kafka_topic, 2)
    service = CommandService(app)  # type: ignore[arg-type]
    customers = [
        service.handle(RegisterCustomer(name=f"W{i}", email=f"w{i}@example.com"), CTX).customer_id
        for i in range(CUSTOMERS)
    ]
    written: dict[UUID, list[int]] = defaultdict(list)  # each customer's positions, in order
    stop_writing = threading.Event()

    def write(mine: list[UUID]) -> None:
        n = 0
        while not stop_writing.is_set():
            customer = mine[n % len(mine)]
            touch = RecordContactTouch(customer_id=customer, channel="PHONE", summary=f"n{n}")
            position = service.handle(touch, CTX).position
            assert position is not None
            written[customer].append(position)
            n += 1
            time.sleep(0.005)

    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": bootstrap,
        "CRM_KAFKA_TOPIC": kafka_topic,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(tmp_path / "operator"),
    }

    def spawn(slot: int, n: int) -> subprocess.Popen[bytes]:
        folder = tmp_path / f"worker{slot}-{n}"
        folder.mkdir()
        with (folder / "stderr.log").open("wb") as log:  # the child keeps its own copy
            return subprocess.Popen(
                crm_command("worker", "projections"),
                env={**env, "CRM_DATA_DIR": str(folder)},
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )

    relay = start_worker(
        servers, database_url, kafka_topic, master_key, tmp_path / "relay", ("relay",)
    )

    def detail(slot: int) -> str:
        """The heartbeat of slot `slot`'s newest process, when it is "ok"."""
        beats = tmp_path.glob(f"worker{slot}-*/run/worker-projections.json")
        try:
            found = json.loads(max(beats, key=lambda path: path.stat().st_mtime).read_text())
        except (OSError, ValueError):
            return ""
        return str(found.get("detail", "")) if found.get("status") == "ok" else ""

    def stall_restarts() -> int:
        """Processes that ended because an in-place switch could not stop their consumer."""
        logs = tmp_path.glob("worker*/stderr.log")
        return sum(log.read_text(errors="replace").count("did not stop in") for log in logs)

    def joined(slot: int) -> bool:
        return bool(detail(slot))

    def sharing() -> bool:  # each worker holds one of the old topic's two partitions
        held = {detail(slot).rpartition("partitions ")[2] for slot in (0, 1)}
        return held == {"0", "1"}

    workers = Restarting(spawn, 2, joined)
    writers = [
        threading.Thread(target=write, args=(customers[i::WRITERS],)) for i in range(WRITERS)
    ]
    held: list[Held] = []
    try:
        for writer in writers:
            writer.start()
        wait_for(
            lambda: (
                timeline_rows(database_url) >= 100
                and sharing()
                and checkpointed(database_url, customers)
            ),
            timeout=120,
        )
        on = on_partitions(bootstrap, kafka_topic, customers)
        assert set(on) == {0, 1}, on  # twelve customers over two partitions: both used
        # Both partitions held back: the old topic has a backlog on each at the cut, and
        # the new topic gets events too; then partition 1 is let go first. Its worker must
        # not move to the new topic before the group has read partition 0 to the cut: a
        # worker that moved early would apply a customer's new events before its old
        # ones, and the per-customer checkpoint would then skip the old ones.
        held = [Held(database_url, on[0]), Held(database_url, on[1])]
        held_at = bookmark(database_url, kafka_topic)
        wait_for(lambda: bookmark(database_url, kafka_topic) >= held_at + 150, timeout=120)
        widened = subprocess.run(
            crm_command("topic", "widen", "--partitions", "6", "--wait", "90"),
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert widened.returncode == 0, widened.stderr
        assert f"later events go to {kafka_topic}.p6 (6 partitions)" in widened.stdout
        with psycopg.connect(database_url, autocommit=True) as conn:
            (cut,) = load_cuts(conn, kafka_topic)
        assert cut.position is not None
        at_cut = cut.position
        backlog = at_cut - timeline_rows(database_url, at_cut)  # not yet applied at the cut
        assert backlog > 0
        wait_for(lambda: bookmark(database_url, kafka_topic) >= at_cut + 150, timeout=120)
        first = on[1]
        first_at_cut = recorded_of(database_url, first, at_cut)
        held[1].release()
        wait_for(lambda: applied_of(database_url, first, at_cut) == first_at_cut, timeout=120)
        # Offsets are committed each second and the group's read every 2 s
        # (CUT_CHECK_SECONDS): time enough for worker 1 to move early, if it would.
        time.sleep(5)
        assert timeline_rows(database_url) == timeline_rows(database_url, at_cut), (
            "an event after the cut was applied before partition 0 was read to the cut"
        )
        slot = next(slot for slot in (0, 1) if detail(slot).endswith("partitions 1"))
        assert f"topic {kafka_topic}, partitions 1" in detail(slot), detail(slot)
        held[0].release()
        wait_for(lambda: timeline_rows(database_url, at_cut) == at_cut, timeout=120)
        wait_for(lambda: bookmark(database_url, kafka_topic) >= at_cut + 300, timeout=120)
        stop_writing.set()
        for writer in writers:
            writer.join(timeout=60)
        last = app.recorder.max_notification_id() or 0  # type: ignore[attr-defined]
        wait_applied(database_url, last, timeout=150)  # lost events fail here
        shown = subprocess.run(
            crm_command("topic", "show"), env=env, capture_output=True, text=True, timeout=60
        )
        assert f"events go to {kafka_topic}.p6 (6 partitions)" in shown.stdout
        # Both workers followed the cut in place, and read the new topic. A process exits
        # only when an in-place switch could not stop its consumer in 10 s (exit 75,
        # restarted as `crm up` does): seen after the stall watch's rejoin of a stuck
        # consumer (streams/stall_watch.py).
        wait_for(
            lambda: all(f"topic {kafka_topic}.p6" in detail(slot) for slot in (0, 1)), timeout=120
        )
        assert workers.exits == [EXIT_BROKER_LOST] * stall_restarts(), workers.exits
    finally:
        for hold in held:
            hold.release()
        stop_writing.set()
        for writer in writers:
            writer.join(timeout=60)
        workers.close()
        stop(relay)

    # Every event reached the read models exactly once (the timeline's key is the position).
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT customer_id, position, stream_version, xmin::text::bigint FROM rm_timeline "
            "ORDER BY customer_id, position"
        ).fetchall()
    assert sorted(position for _, position, _, _ in rows) == list(range(1, last + 1))
    timeline: dict[UUID, list[tuple[int, int, int]]] = defaultdict(list)
    for customer, position, version, xmin in rows:
        timeline[customer].append((position, version, xmin))
    for customer in customers:
        mine = timeline[customer]
        # Written in a known order (the positions each writer got back), all present...
        assert [p for p, _, _ in mine][1:] == written[customer]
        assert [v for _, v, _ in mine] == list(range(1, len(mine) + 1))
        # ...and applied in it: no transaction wrote a later event before an earlier one.
        xmins = [x for _, _, x in mine]
        assert xmins == sorted(xmins), f"customer {customer} applied out of order"

    # Events up to the cut on the old topic, every later one on the new 6-partition topic.
    new_topic = f"{kafka_topic}.p6"
    assert partition_count(bootstrap, new_topic) == 6
    old = {
        decode(m.value)["position"]
        for m in consume_all(bootstrap, kafka_topic, 10**6, timeout_ms=4000)
    }
    new_messages = consume_all(bootstrap, new_topic, 10**6, timeout_ms=4000)
    new = {decode(m.value)["position"] for m in new_messages}
    assert old == set(range(1, at_cut + 1))
    assert new == set(range(at_cut + 1, last + 1))
    assert len({m.partition for m in new_messages}) > 2  # the later events use the new width

    print(
        f"\nwiden under load: {last} events, cut at {at_cut} with {backlog} not yet applied, "
        f"{len(new)} on {new_topic}, "
        f"worker exits {workers.exits}, "
        f"restarts after a switch that could not stop: {stall_restarts()}"
    )
