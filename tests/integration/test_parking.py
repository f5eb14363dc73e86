"""Poison messages on the real broker: the workers (`crm worker projections|analytics`)
park what they cannot trust or apply, apply every valid message around it, and keep
running. Only the relay's signed messages reach the read models."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from projections.analytics.layout import AnalyticsLayout
from streams.relay import Relay
from streams.signing import SIGNATURE_HEADER, signing_key
from tests.integration.support.parking import forged, parked_rows, produce, produce_signed
from tests.integration.support.servers import ServerSet
from tests.integration.support.streaming import CTX, start_worker, stop
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration

HUGE = 10**15  # a forged position far beyond anything recorded


def applied(database_url: str, position: int) -> bool:
    """Whether the projections worker has put the event at `position` in the timeline."""
    with psycopg.connect(database_url) as conn:
        try:
            row = conn.execute("SELECT 1 FROM rm_timeline WHERE position = %s", (position,))
            return row.fetchone() is not None
        except psycopg.errors.UndefinedTable:
            return False


def touch(service: CommandService, customer_id: object) -> None:
    service.handle(RecordContactTouch(customer_id=customer_id, channel="PHONE", summary="hi"), CTX)


def alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def test_projections_worker_parks_poison_and_applies_everything_around_it(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    bootstrap = servers.kafka_bootstrap
    key = app.stream_signing_key
    relay = Relay(app, database_url, bootstrap, kafka_topic, partitions=1)
    service = CommandService(app)
    customer = service.handle(RegisterCustomer(name="Poisoned"), CTX).customer_id
    subject = str(customer).encode()
    relay.publish_available()  # offset 0: registered
    produce_signed(bootstrap, kafka_topic, key, subject, b"{not json")  # offset 1
    touch(service, customer)
    relay.publish_available()  # offset 2: touch
    worker = start_worker(servers, database_url, kafka_topic, master_key, tmp_path / "w")
    try:
        wait_for(lambda: applied(database_url, 1) and applied(database_url, 2), 90, interval=0.2)
        wait_for(lambda: len(parked_rows(database_url)) == 1, 10, interval=0.2)
        assert parked_rows(database_url)[0][:3] == ("crm-projections", 0, 1)
        assert parked_rows(database_url)[0][3].startswith("not JSON: ")

        # A newer or buggy relay's unknown type, a foreign copy and a badly signed copy,
        # each claiming a huge position for this customer: none may move its checkpoint.
        unknown_key, unknown = forged(app, 2, type="crm.x.v9", position=HUGE)
        produce_signed(bootstrap, kafka_topic, key, unknown_key, unknown)  # offset 3
        copy_key, copy = forged(app, 2, position=HUGE)
        produce(bootstrap, kafka_topic, copy_key, copy)  # offset 4: unsigned
        stranger = signing_key(generate_master_key())
        produce_signed(bootstrap, kafka_topic, stranger, copy_key, copy)  # offset 5
        produce(bootstrap, kafka_topic, copy_key, copy, [(SIGNATURE_HEADER, b"00")])  # 6
        touch(service, customer)
        relay.publish_available()  # offset 7: a later valid write of the same customer
        wait_for(lambda: applied(database_url, 3), 30, interval=0.2)
        wait_for(lambda: len(parked_rows(database_url)) == 5, 10, interval=0.2)

        rows = parked_rows(database_url)
        assert [(r[1], r[2]) for r in rows] == [(0, 1), (0, 3), (0, 4), (0, 5), (0, 6)]
        assert "unknown event type 'crm.x.v9'" in rows[1][3]
        assert rows[2][3].startswith("missing signature")
        assert rows[3][3].startswith("bad signature") and rows[4][3].startswith("bad signature")
        with psycopg.connect(database_url) as conn:
            top = conn.execute("SELECT max(position) FROM rm_applied").fetchone()
        assert top == (3,)
        assert alive(worker)
    finally:
        stop(worker)
        relay.close()


def test_analytics_worker_parks_non_json_and_writes_the_valid_events(
    servers: ServerSet,
    app: CrmApplication,
    database_url: str,
    kafka_topic: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    bootstrap = servers.kafka_bootstrap
    relay = Relay(app, database_url, bootstrap, kafka_topic, partitions=1)
    service = CommandService(app)
    customer = service.handle(RegisterCustomer(name="Analysed"), CTX).customer_id
    relay.publish_available()
    subject = str(customer).encode()
    produce_signed(bootstrap, kafka_topic, app.stream_signing_key, subject, b"\xff\xfe")
    produce(bootstrap, kafka_topic, subject, b"plain text from nowhere")
    touch(service, customer)
    relay.publish_available()
    data_dir = tmp_path / "data"
    layout = AnalyticsLayout.for_data_dir(data_dir)
    worker = start_worker(
        servers, database_url, kafka_topic, master_key, data_dir, ("worker", "analytics")
    )

    def written() -> bool:
        if not layout.catalog.exists():
            return False
        with duckdb.connect(str(layout.catalog), read_only=True) as analyst:
            row = analyst.execute("SELECT count(*) FROM events").fetchone()
        return row is not None and row[0] == 2

    try:
        wait_for(written, 90, interval=0.2)
        wait_for(lambda: len(parked_rows(database_url)) == 2, 10, interval=0.2)
        rows = parked_rows(database_url)
        assert [r[:3] for r in rows] == [("crm-analytics", 0, 1), ("crm-analytics", 0, 2)]
        assert rows[0][3].startswith("not JSON: ")
        assert rows[1][3].startswith("missing signature")
        assert alive(worker)
    finally:
        stop(worker)
        relay.close()
