"""Kafka messages built once, at commit (`crm_event_envelopes`), so the relay only signs and
sends: they must be the very messages the relay builds from the stored events, for every
event type a demo history records, and a message built before its class gained an
upcaster must be rebuilt, not sent as stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from demo.command import seed_database
from streams.source import EventSource, PrebuiltEvent, StoredEvent, message_of
from streams.wire import WIRE_PREFIX, WireMessage
from tests.integration.test_relay import consume_all, register

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 30, 12, tzinfo=UTC)


def messages(app: CrmApplication) -> tuple[list[StoredEvent | PrebuiltEvent], list[WireMessage]]:
    events = EventSource(app).read_stored_after(0, 1_000_000).events
    return events, [message_of(app.stream_signing_key, e) for e in events]


def test_every_message_built_at_commit_is_the_one_the_relay_would_build(
    database_url: str,
) -> None:
    key = generate_master_key()
    seed_database(database_url, key=key, customers=40, seed=5, batch=10, until=NOW)
    app = CrmApplication(database_url, master_key=key, pool_size=2)  # a reader: no encoder
    try:
        built_events, built = messages(app)
        assert built_events and all(isinstance(e, PrebuiltEvent) for e in built_events)
        with psycopg.connect(database_url) as conn:
            (stored,) = conn.execute("SELECT count(*) FROM stored_events").fetchone() or (0,)
            conn.execute("DELETE FROM crm_event_envelopes")
        assert len(built) == stored  # every recorded event got its message at commit

        rebuilt_events, rebuilt = messages(app)
        assert all(isinstance(e, StoredEvent) for e in rebuilt_events)
        types = {m.headers[3][1] for m in built}
        assert len(types) >= 15, types  # the history covers the event types, not one or two
        assert any(WIRE_PREFIX.encode() in m.value for m in built)  # personal data sealed
        for at_commit, from_store in zip(built, rebuilt, strict=True):
            assert at_commit.key == from_store.key
            assert at_commit.value == from_store.value  # byte for byte: one signature
            assert at_commit.headers == from_store.headers
    finally:
        app.close()


def test_a_message_built_before_an_upcaster_is_rebuilt_from_the_stored_event(
    app: Any, database_url: str
) -> None:
    from bootstrap import command_service
    from commands.messages import CommandContext, RegisterCustomer

    service = command_service(app)
    ctx = CommandContext(actor="test")
    for i in range(3):
        service.handle(RegisterCustomer(name=f"N{i}", email=f"n{i}@example.com"), ctx)
    _, before = messages(app)
    with psycopg.connect(database_url) as conn:
        # What a row built by the class's previous version looks like to this build.
        conn.execute(
            "UPDATE crm_event_envelopes SET type = replace(type, '.v', '.old-v'), "
            "value = 'stale' WHERE position = 2"
        )
    events, after = messages(app)
    assert [type(e) for e in events] == [PrebuiltEvent, StoredEvent, PrebuiltEvent]
    assert after == before  # position 2 rebuilt from its stored event, not sent as stored


def test_a_message_changed_in_the_database_fails_the_workers_signature_check(
    app: Any, database_url: str
) -> None:
    """Signed at commit, not by the relay: the relay cannot vouch for a row someone edited."""
    from bootstrap import command_service
    from commands.messages import CommandContext, RegisterCustomer
    from streams.signing import SIGNATURE_HEADER, signature_problem

    command_service(app).handle(
        RegisterCustomer(name="Lin", email="lin@example.com"), CommandContext(actor="test")
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE crm_event_envelopes SET value = convert_to(replace(convert_from(value, "
            "'UTF8'), '\"actor\":\"test\"', '\"actor\":\"eve\"'), 'UTF8')"
        )
    (event,), (message,) = messages(app)
    assert isinstance(event, PrebuiltEvent)  # sent as stored, not rebuilt
    assert b'"actor":"eve"' in message.value
    headers = {name: value for name, value in message.headers if isinstance(value, bytes)}
    assert headers[SIGNATURE_HEADER]
    problem = signature_problem(app.stream_signing_key, headers, message.key, message.value)
    assert problem is not None and "bad signature" in problem


def test_the_relay_keeps_recent_messages_and_rebuilds_older_ones_on_a_republish(
    app: Any, database_url: str, kafka_bootstrap: str, kafka_topic: str
) -> None:
    """`crm_event_envelopes` stays bounded: rows far enough behind the bookmark go, and a
    re-publish (a broker loss, a new topic) builds those messages again, the same bytes."""
    from bootstrap import command_service
    from streams.relay import Relay

    service = command_service(app)
    for i in range(5):
        register(service, f"K{i}", f"k{i}@example.com")
    published = {}
    for topic in (kafka_topic, f"{kafka_topic}.again"):
        relay = Relay(app, database_url, kafka_bootstrap, topic, partitions=2, keep_messages=2)
        try:
            assert relay.publish_available() == 5
        finally:
            relay.close()
        with psycopg.connect(database_url) as conn:
            kept = [r[0] for r in conn.execute("SELECT position FROM crm_event_envelopes")]
        assert sorted(kept) == [4, 5]  # up to the bookmark (5) minus the 2 kept: deleted
        published[topic] = {
            (m.key, m.value, tuple((k, bytes(v)) for k, v in m.headers or []))
            for m in consume_all(kafka_bootstrap, topic, 5)
        }
    first, again = published.values()
    assert len(first) == 5 and again == first  # rebuilt: same bytes, same signatures


def test_messages_are_pruned_oldest_first_a_bounded_number_at_a_time(
    app: Any, database_url: str
) -> None:
    """The relay's prune is a short statement: at most `at_most` rows, the oldest, and it
    says how far it got so the next one goes on from there."""
    from bootstrap import command_service

    service = command_service(app)
    for i in range(6):
        register(service, f"P{i}", f"p{i}@example.com")
    source = EventSource(app)

    def kept() -> list[int]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT position FROM crm_event_envelopes ORDER BY 1")
            return [row[0] for row in rows]

    assert source.forget_messages(after=0, upto=5, at_most=2) == 2
    assert kept() == [3, 4, 5, 6]
    assert source.forget_messages(after=2, upto=5, at_most=2) == 4
    assert source.forget_messages(after=4, upto=5, at_most=2) == 5  # fewer left: range done
    assert kept() == [6]
    assert source.forget_messages(after=5, upto=5, at_most=2) == 5
