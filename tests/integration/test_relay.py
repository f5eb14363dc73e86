"""The relay on the real PostgreSQL and the real broker: order, keys, schema, sealing,
crash and resume without gaps, and re-publishing after the broker loses its data."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from bootstrap import open_store
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import (
    CommandContext,
    ForgetCustomer,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
)
from commands.service import CommandService
from ops.embedded.kafka import EmbeddedKafka, stop_kafka
from streams.envelope import decode, validate
from streams.relay import Relay
from streams.source import WIRE_PREFIX, EnvelopeOpener
from streams.topic import ensure_topic

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="relay-test")


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    """As processes open it: each save writes its events' messages (the relay's fast path;
    `test_envelopes_at_commit` holds them equal to the messages built from the store)."""
    application = open_store(database_url, master_key, kind="command", pool_size=2)
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app)


def consume_all(bootstrap: str, topic: str, expected: int, timeout_ms: int = 8000) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms,
        enable_auto_commit=False,
    )
    messages = []
    for message in consumer:
        messages.append(message)
        if len(messages) >= expected:
            break
    consumer.close()
    return messages


def register(service: CommandService, name: str, email: str) -> UUID:
    return service.handle(
        RegisterCustomer(name=name, email=email, phone="13800138000"), CTX
    ).customer_id


def history(service: CommandService, customer_id: UUID) -> None:
    service.handle(
        RecordContactTouch(
            customer_id=customer_id, channel="PHONE", summary="called about the 李 order"
        ),
        CTX,
    )
    service.handle(MoveStage(customer_id=customer_id, to="QUALIFIED"), CTX)
    service.handle(
        RecordPurchase(
            customer_id=customer_id,
            order_id=f"SO-{customer_id.hex[:6]}",
            lines=(PurchaseLineInput(sku="A-1", quantity=2, unit_price=Decimal("99.50")),),
        ),
        CTX,
    )


def test_publishes_every_event_in_order_keyed_by_customer_with_sealed_personal_data(
    app: CrmApplication,
    service: CommandService,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    ids = [register(service, f"客户 {i}", f"c{i}@example.com") for i in range(3)]
    for customer_id in ids:
        history(service, customer_id)
    # Batches of 2, 2 in flight: the pipeline fills, drains and refills six times.
    relay = Relay(
        app, database_url, kafka_bootstrap, kafka_topic, partitions=3, batch_size=2, window=2
    )
    try:
        assert relay.publish_available() == 12
        assert relay.lag() == 0
    finally:
        relay.close()

    messages = consume_all(kafka_bootstrap, kafka_topic, 12)
    envelopes = [decode(m.value) for m in messages]
    assert len(envelopes) == 12
    assert sorted(e["position"] for e in envelopes) == list(range(1, 13))
    for message, envelope in zip(messages, envelopes, strict=True):
        validate(envelope)
        assert message.key.decode() == envelope["subject"]
        # The kafka-python relay's (and Java client's) partition: customers stay put.
        assert message.partition == (murmur2(message.key) & 0x7FFFFFFF) % 3
        assert b"example.com" not in message.value and "客户".encode() not in message.value
        assert envelope["actor"] == "relay-test"
    for customer_id in ids:
        mine = [e for e in envelopes if e["subject"] == str(customer_id)]
        assert [e["version"] for e in mine] == [1, 2, 3, 4]  # per-customer order on one partition
        assert mine[0]["type"] == "crm.customer.registered.v1"
        assert mine[0]["data"]["email"].startswith(WIRE_PREFIX)

    opened = EnvelopeOpener(app).open_all(envelopes)
    first = next(e for e in opened if e["subject"] == str(ids[0]) and e["version"] == 1)
    assert first["data"]["name"] == "客户 0" and first["data"]["email"] == "c0@example.com"


def test_forgotten_customer_cannot_be_read_from_the_topic(
    app: CrmApplication,
    service: CommandService,
    database_url: str,
    master_key: str,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    customer_id = register(service, "Wang Fang", "wang@example.com")
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2)
    try:
        relay.publish_available()
        service.handle(ForgetCustomer(customer_id=customer_id, reason="erasure request 42"), CTX)
        relay.publish_available()
    finally:
        relay.close()
    envelopes = [decode(m.value) for m in consume_all(kafka_bootstrap, kafka_topic, 2)]
    assert [e["type"] for e in envelopes] == [
        "crm.customer.registered.v1",
        "crm.customer.forgotten.v1",
    ]
    fresh = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        registered = EnvelopeOpener(fresh).open(envelopes[0])
    finally:
        fresh.close()
    assert registered["data"]["name"] is None and registered["data"]["email"] is None


def test_resumes_after_a_crash_without_gaps_or_repeats(
    app: CrmApplication,
    service: CommandService,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    first_ids = [register(service, f"A{i}", f"a{i}@example.com") for i in range(4)]
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2)
    relay.publish_available()
    relay.close()  # the process dies here; its bookmark is in PostgreSQL
    later_ids = [register(service, f"B{i}", f"b{i}@example.com") for i in range(3)]
    restarted = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2)
    try:
        assert restarted.progress.position == 4
        assert restarted.publish_available() == 3
    finally:
        restarted.close()
    subjects = [decode(m.value)["subject"] for m in consume_all(kafka_bootstrap, kafka_topic, 7)]
    assert sorted(subjects) == sorted(str(i) for i in first_ids + later_ids)


class OwnBroker:
    """A memory-only broker of the test's own: a restart starts it empty, as `crm up`'s."""

    def __init__(self, log_path: Path) -> None:
        self.broker = EmbeddedKafka(log_path=log_path)
        self.process: subprocess.Popen[bytes] | None = self.broker.start()

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def kill(self) -> None:
        """kill -9: everything it held is gone."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def start(self) -> None:
        self.process = self.broker.start()  # the same port

    def restart_empty(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            stop_kafka(self.process)
            self.process = None


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    broker = OwnBroker(tmp_path / "tansu.log")
    yield broker
    broker.stop()


@pytest.fixture
def own_relay(app: CrmApplication, database_url: str, own_broker: OwnBroker) -> Iterator[Relay]:
    relay = Relay(app, database_url, own_broker.bootstrap, "crm.events", partitions=2)
    yield relay
    relay.close()


def on_own_topic(broker: OwnBroker) -> set[str]:
    """The distinct event ids on the topic."""
    return {decode(m.value)["id"] for m in consume_all(broker.bootstrap, "crm.events", 100, 3000)}


def test_republishes_everything_when_the_broker_lost_its_data(
    service: CommandService, own_broker: OwnBroker, own_relay: Relay
) -> None:
    for i in range(5):
        register(service, f"C{i}", f"c{i}@example.com")
    assert own_relay.publish_available() == 5
    own_broker.restart_empty()
    assert own_relay.broker_lost_data() is True
    assert own_relay.progress.republished == 1
    assert own_relay.publish_available() == 5
    assert own_relay.broker_lost_data() is False


def test_a_broker_loss_is_found_even_when_the_relay_sends_to_the_new_broker_first(
    service: CommandService, own_broker: OwnBroker, own_relay: Relay
) -> None:
    """CI's chaos run lost 72 orders in analytics (not in the read models): the broker
    restarted empty, something recreated the topic, and the relay delivered a new event
    and refreshed its remembered partition ends from the new log before its once-a-second
    loss check ran. The check then compared the new log with itself, found nothing lost,
    and events the slower worker had not read yet were never re-published."""
    for i in range(6):
        register(service, f"C{i}", f"c{i}@example.com")
    assert own_relay.publish_available() == 6
    own_broker.restart_empty()
    ensure_topic(own_broker.bootstrap, "crm.events", 2)  # a worker's consumer, or a standby
    register(service, "After", "after@example.com")
    own_relay._restart_pipeline()  # librdkafka reconnects on its own; this is quicker
    own_relay._ends_probed_at = 0.0  # the bookmark's periodic probe is due
    own_relay.step(wait=0.0)  # queued on the new broker, then bookmarked: no loss check
    own_relay.bookmark(own_relay.pipeline.delivered(5.0))
    assert own_relay.progress.republished == 1
    assert own_relay.broker_lost_data() is False
    assert own_relay.publish_available() == 7
    assert len(on_own_topic(own_broker)) == 7


def test_a_recreated_topic_is_a_loss_even_once_its_new_log_is_longer(
    service: CommandService, own_broker: OwnBroker, own_relay: Relay
) -> None:
    """The ends alone miss a loss when the new log grew past them before the first probe
    (a young topic, a burst in flight): the topic's id, new at every creation, does not."""
    from kafka import KafkaProducer

    register(service, "Early", "early@example.com")
    assert own_relay.publish_available() == 1
    own_relay._ends_probed_at = 0.0
    own_relay.bookmark(own_relay.progress.position)  # a probe: ends and topic id remembered
    own_broker.restart_empty()
    ensure_topic(own_broker.bootstrap, "crm.events", 2)
    producer = KafkaProducer(bootstrap_servers=own_broker.bootstrap)
    for partition in (0, 1):
        for _ in range(3):
            producer.send("crm.events", b"other", partition=partition)
    producer.flush()
    producer.close()
    assert own_relay.broker_lost_data() is True
    assert own_relay.progress.republished == 1


def test_the_running_relay_rides_out_a_broker_restart_without_exiting(
    service: CommandService, own_broker: OwnBroker, own_relay: Relay
) -> None:
    """Issue 11, item 6: a broker kill used to end the relay process (a send failed), and
    its restart cost seconds of the recovery. It now retries in place and re-publishes."""
    import threading

    from tests.integration.support.waiting import wait_for

    for i in range(3):
        register(service, f"Before{i}", f"before{i}@example.com")
    relay = own_relay
    stop = threading.Event()
    failures: list[BaseException] = []
    reports: list[tuple[str, str]] = []

    def body() -> None:
        try:
            relay.run(stop, lambda status, detail: reports.append((status, detail)))
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=body)
    runner.start()
    try:
        wait_for(lambda: relay.progress.position == 3, timeout=30)
        own_broker.kill()
        register(service, "During", "during@example.com")
        wait_for(lambda: any(status == "error" for status, _ in reports) or failures, 30)
        own_broker.start()
        wait_for(lambda: relay.progress.republished == 1 or failures, timeout=60)
        register(service, "After", "after@example.com")
        wait_for(lambda: relay.progress.position == 5 or failures, timeout=60)
        assert failures == [] and runner.is_alive()
        assert len(on_own_topic(own_broker)) == 5
    finally:
        stop.set()
        runner.join(timeout=30)


def test_wire_bytes_equal_the_envelope_and_carry_cloudevents_and_trace_headers(
    app: CrmApplication,
    service: CommandService,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    """The relay writes each message straight from the decoded event (orjson, one decode);
    it must be the very envelope `to_envelope` describes and the schemas accept."""
    import json

    from streams.envelope import encode, to_envelope
    from streams.signing import header_value, signature_problem
    from streams.source import EventSource
    from streams.wire import wire_message

    customer_id = register(service, "Zhou 周", "zhou@example.com")
    history(service, customer_id)  # a Decimal price, a touch with free text, a stage move
    service.handle(ForgetCustomer(customer_id=customer_id, reason="erasure"), CTX)
    stored = EventSource(app).read_events_after(0, 100)
    assert len(stored) == 5
    key = app.stream_signing_key
    for event in stored:
        envelope = to_envelope(event.cls, event.state, event.meta)
        message = wire_message(key, event.cls, event.state, event.meta)
        assert json.loads(message.value) == json.loads(encode(envelope))
        validate(json.loads(message.value))
        assert message.key == envelope["subject"].encode()

    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2, validate_every=1)
    try:
        assert relay.publish_available() == 5
    finally:
        relay.close()
    for message in consume_all(kafka_bootstrap, kafka_topic, 5):
        envelope = decode(message.value)
        headers = message.headers
        assert signature_problem(key, headers, message.key, message.value) is None
        assert header_value(headers, "ce_id") == envelope["id"].encode()
        assert header_value(headers, "ce_type") == envelope["type"].encode()
        assert header_value(headers, "ce_source") == envelope["source"].encode()
        assert header_value(headers, "ce_time") == envelope["time"].encode()
        assert header_value(headers, "ce_specversion") == b"1.0"
        # W3C trace context: the command's correlation id is the trace; the span from the id.
        version, trace, span, flags = (header_value(headers, "traceparent") or b"").split(b"-")
        assert (version, flags) == (b"00", b"01")
        assert trace.decode() == UUID(envelope["correlationid"]).hex
        assert span.decode() == UUID(envelope["id"]).hex[16:]


def test_sampled_validation_is_counted_with_the_bookmark(
    app: CrmApplication,
    service: CommandService,
    database_url: str,
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    import psycopg

    for i in range(3):
        register(service, f"S{i}", f"s{i}@example.com")
    relay = Relay(app, database_url, kafka_bootstrap, kafka_topic, partitions=2, validate_every=2)
    try:
        assert relay.publish_available() == 3
    finally:
        relay.close()
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT position, validated, invalid FROM crm_relay_progress WHERE topic = %s",
            (kafka_topic,),
        ).fetchone()
    assert row == (3, 1, 0)  # one message in two validated: the 2nd; none broke its schema


def test_schemas_check_events_validates_every_stored_event_as_the_relay_sends_it(
    service: CommandService, database_url: str, master_key: str, tmp_path: Path
) -> None:
    """The relay validates a sample; `crm schemas check --events` validates them all."""
    from ops.crm_process import clean_env, crm_argv

    customer_id = register(service, "Sun 孙", "sun@example.com")
    history(service, customer_id)
    env = {
        "CRM_DATABASE_URL": database_url,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        crm_argv("schemas", "check", "--events"),
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "4 stored events checked, 0 invalid" in result.stdout
