"""Sealing, key wrapping, email digests, the key ring's caching rules, and the mapper.

No servers: the key ring is given an in-memory "table" of wrapped keys, so the rules
that matter for erasure (tombstones, staging, TTL) are checked exactly.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder

from commands.crypto import (
    NONCE_SIZE,
    KeyDestroyed,
    MasterKey,
    OsRandom,
    UnreadableCiphertext,
    derive_email_secret,
    email_digest,
    field_aad,
    generate_master_key,
    open_sealed,
    parse_master_key,
    random_uuid,
    seal,
)
from commands.keys import KeyRing
from commands.mapper import SEALED, CrmMapper
from events import ComplaintFiled, ContactTouchRecorded, CustomerForgotten, CustomerRegistered


class FakeKeyTable:
    """``crm_customer_keys`` as a dict, counting look-ups."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self.rows: dict[UUID, bytes] = {}
        self.fetches = 0

    def add(self, customer_id: UUID) -> None:
        _, wrapped = self.master.new_data_key(customer_id)
        self.rows[customer_id] = wrapped

    def fetch(self, ids: Sequence[UUID]) -> Mapping[UUID, bytes]:
        self.fetches += 1
        return {i: self.rows[i] for i in ids if i in self.rows}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(generate_master_key())


@pytest.fixture
def table(master: MasterKey) -> FakeKeyTable:
    return FakeKeyTable(master)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ring(master: MasterKey, table: FakeKeyTable, clock: Clock) -> KeyRing:
    return KeyRing(master, table.fetch, ttl=5.0, clock=clock)


def make(cls: Any, **fields: Any) -> Any:
    """Build an event (the library's metaclass makes the constructor invisible to mypy)."""
    return cls(**fields)


def transcoder() -> JSONTranscoder:
    t = JSONTranscoder()
    Application.register_transcodings(None, t)  # type: ignore[arg-type]
    return t


# -- primitives -----------------------------------------------------------------------------


def test_master_key_parses_base64_and_rejects_bad_sizes() -> None:
    assert len(parse_master_key(generate_master_key())) == 32
    with pytest.raises(ValueError):
        parse_master_key(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        parse_master_key("not base64 !!")


def test_sealed_value_opens_only_with_same_customer_and_field() -> None:
    cipher = AESGCM(AESGCM.generate_key(bit_length=256))
    customer = uuid4()
    sealed = seal(cipher, b'"Ann"', field_aad(customer, "name"))
    assert open_sealed(cipher, sealed, field_aad(customer, "name")) == b'"Ann"'
    with pytest.raises(UnreadableCiphertext):
        open_sealed(cipher, sealed, field_aad(customer, "email"))
    with pytest.raises(UnreadableCiphertext):
        open_sealed(cipher, sealed, field_aad(uuid4(), "name"))


def test_nonces_differ_so_equal_values_do_not_look_equal() -> None:
    cipher = AESGCM(AESGCM.generate_key(bit_length=256))
    aad = field_aad(uuid4(), "name")
    assert seal(cipher, b"x", aad) != seal(cipher, b"x", aad)


def test_wrapped_key_is_bound_to_its_customer(master: MasterKey) -> None:
    customer = uuid4()
    key, wrapped = master.new_data_key(customer)
    assert master.unwrap(customer, wrapped) == key
    assert key not in wrapped
    with pytest.raises(UnreadableCiphertext):
        master.unwrap(uuid4(), wrapped)
    with pytest.raises(UnreadableCiphertext):
        MasterKey(generate_master_key()).unwrap(customer, wrapped)


def test_email_digest_normalises_and_depends_on_the_secret() -> None:
    secret = derive_email_secret(parse_master_key(generate_master_key()))
    assert email_digest(secret, " Ann@Example.COM ") == email_digest(secret, "ann@example.com")
    assert email_digest(secret, "ann@example.com") != email_digest(b"x" * 32, "ann@example.com")
    assert b"ann" not in email_digest(secret, "ann@example.com")


# -- key ring -------------------------------------------------------------------------------


def test_ring_caches_for_ttl_then_refetches(
    ring: KeyRing, table: FakeKeyTable, clock: Clock
) -> None:
    customer = uuid4()
    table.add(customer)
    assert ring.for_read(customer) is not None
    assert ring.for_read(customer) is not None
    assert table.fetches == 1
    clock.now += 6
    assert ring.for_read(customer) is not None
    assert table.fetches == 2


def test_missing_key_means_forgotten_for_good(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    assert ring.for_read(customer) is None
    assert ring.is_forgotten(customer)
    table.add(customer)  # even if a row appeared, this process never decrypts again
    assert ring.for_read(customer) is None
    with pytest.raises(KeyDestroyed):
        ring.for_write(customer)


def test_forget_blocks_reads_from_start_and_tombstones_on_success(
    ring: KeyRing, table: FakeKeyTable
) -> None:
    customer = uuid4()
    table.add(customer)
    assert ring.for_read(customer) is not None
    seen_inside: list[object] = []
    with ring.writing({}, forgetting=[customer]):
        # Another thread reading while the forget may commit sees nothing.
        thread = threading.Thread(target=lambda: seen_inside.append(ring.for_read(customer)))
        thread.start()
        thread.join()
        # The forgetting save itself may still seal earlier events of its batch.
        assert ring.for_write(customer) is not None
    assert seen_inside == [None]
    assert ring.for_read(customer) is None
    assert ring.is_forgotten(customer)


def test_failed_forget_lifts_the_mark(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    table.add(customer)
    with pytest.raises(RuntimeError), ring.writing({}, forgetting=[customer]):
        raise RuntimeError("transaction failed")
    assert ring.for_read(customer) is not None
    assert not ring.is_forgotten(customer)


def test_staged_keys_are_private_until_commit(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    cipher, _wrapped = ring.new_key(customer)
    others: list[object] = []
    with ring.writing({customer: cipher}):
        assert ring.for_write(customer) is cipher
        thread = threading.Thread(target=lambda: others.append(ring.for_read(customer)))
        thread.start()
        thread.join()
    # Other threads did not see it (and found no row: the registration wasn't committed).
    assert others == [None]


def test_staged_key_is_published_after_commit(
    master: MasterKey, table: FakeKeyTable, clock: Clock
) -> None:
    ring = KeyRing(master, table.fetch, clock=clock)
    customer = uuid4()
    cipher, _ = ring.new_key(customer)
    with ring.writing({customer: cipher}):
        pass
    assert ring.for_read(customer) is cipher
    assert table.fetches == 0


def test_failed_registration_leaves_no_key_behind(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    cipher, _ = ring.new_key(customer)
    with pytest.raises(RuntimeError), ring.writing({customer: cipher}):
        raise RuntimeError("lost the race")
    table.add(customer)  # the winner's key
    assert ring.for_read(customer) is not cipher


# -- mapper ---------------------------------------------------------------------------------


def registered(customer: UUID, **fields: object) -> CustomerRegistered:
    values: dict[str, object] = {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "phone": "+8613800138000",
        "company": "Acme",
        "industry": None,
        "region": None,
        "source": None,
        "referred_by": None,
        "owner": None,
    }
    values.update(fields)
    return make(
        CustomerRegistered,
        originator_id=customer,
        originator_version=1,
        timestamp=datetime(2025, 1, 2, tzinfo=UTC),
        originator_topic="aggregates.customer:Customer",
        **values,
    )


def test_mapper_seals_personal_fields_and_opens_them(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    table.add(customer)
    mapper = CrmMapper(transcoder(), ring)
    stored = mapper.to_stored_event(registered(customer))
    for plain in (b"Ann Lee", b"ann@example.com", b"13800138000"):
        assert plain not in stored.state
    assert b"Acme" in stored.state  # not personal: stays readable for analytics
    event = mapper.decode(stored)
    assert (event.name, event.email, event.phone, event.company) == (
        "Ann Lee",
        "ann@example.com",
        "+8613800138000",
        "Acme",
    )
    redacted = mapper.decode_state(stored, redact=True)
    assert redacted["name"] is None and redacted["company"] == "Acme"
    assert SEALED not in redacted


def test_null_personal_values_stay_null_without_a_key(ring: KeyRing) -> None:
    mapper = CrmMapper(transcoder(), ring)
    stored = mapper.to_stored_event(registered(uuid4(), name=None, email=None, phone=None))
    assert mapper.decode(stored).name is None


def test_fields_read_back_none_once_key_is_gone(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    table.add(customer)
    mapper = CrmMapper(transcoder(), ring)
    stored = mapper.to_stored_event(registered(customer))
    del table.rows[customer]
    ring.tombstone(customer)
    event = mapper.decode(stored)
    assert event.name is None and event.email is None and event.company == "Acme"
    with pytest.raises(KeyDestroyed):
        mapper.to_stored_event(registered(customer))


def test_complaint_fields_use_the_customers_key(ring: KeyRing, table: FakeKeyTable) -> None:
    customer, complaint = uuid4(), uuid4()
    table.add(customer)
    mapper = CrmMapper(transcoder(), ring)
    filed = make(
        ComplaintFiled,
        originator_id=complaint,
        originator_version=1,
        timestamp=datetime(2025, 1, 2, tzinfo=UTC),
        originator_topic="aggregates.complaint:Complaint",
        customer_id=customer,
        category="billing",
        severity="LOW",
        description="charged twice",
    )
    stored = mapper.to_stored_event(filed)
    assert b"charged twice" not in stored.state
    assert mapper.decode(stored).description == "charged twice"
    ring.tombstone(customer)
    assert mapper.decode(stored).description is None


def test_upcasting_runs_after_opening(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    table.add(customer)
    mapper = CrmMapper(transcoder(), ring)
    touch = make(
        ContactTouchRecorded,
        originator_id=customer,
        originator_version=2,
        timestamp=datetime(2025, 1, 2, tzinfo=UTC),
        channel="PHONE",
        direction="INBOUND",
        summary="asked for a quote",
        outcome=None,
    )
    stored = mapper.to_stored_event(touch)
    state = mapper.transcoder.decode(stored.state)
    state.pop("class_version")
    state.pop("direction")
    state.pop("outcome")
    v1 = type(stored)(stored.originator_id, 2, stored.topic, mapper.transcoder.encode(state))
    event = mapper.decode(v1)
    assert (event.summary, event.direction, event.outcome) == (
        "asked for a quote",
        "OUTBOUND",
        None,
    )


def test_decoding_a_forget_tombstones_the_customer(ring: KeyRing, table: FakeKeyTable) -> None:
    customer = uuid4()
    table.add(customer)
    mapper = CrmMapper(transcoder(), ring)
    assert ring.for_read(customer) is not None
    forgotten = make(
        CustomerForgotten,
        originator_id=customer,
        originator_version=9,
        timestamp=datetime(2025, 1, 2, tzinfo=UTC),
        reason="erasure request",
    )
    mapper.decode(mapper.to_stored_event(forgotten))
    assert ring.is_forgotten(customer)


def test_random_bytes_come_in_blocks_from_the_os_and_never_repeat() -> None:
    source = OsRandom()
    drawn = [source.take(NONCE_SIZE) for _ in range(3 * OsRandom.BLOCK // NONCE_SIZE + 5)]
    assert {len(n) for n in drawn} == {NONCE_SIZE}
    assert len(set(drawn)) == len(drawn)
    assert len(source.take(OsRandom.BLOCK + 1)) == OsRandom.BLOCK + 1  # larger: the OS's own
    ids = {random_uuid() for _ in range(10_000)}
    assert len(ids) == 10_000 and {u.version for u in ids} == {4}


def test_threads_drawing_at_once_never_share_a_nonce() -> None:
    source = OsRandom()
    drawn: list[bytes] = []

    def draw() -> None:
        drawn.extend(source.take(NONCE_SIZE) for _ in range(2_000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(drawn)) == len(drawn) == 8_000


def test_a_forked_child_never_uses_the_parents_block() -> None:
    """The same key seals in both processes: a nonce used twice under it would reveal the
    XOR of two plaintexts and let tags be forged."""
    source = OsRandom()
    source.take(NONCE_SIZE)  # the parent holds a block, most of it not yet drawn
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonces, to the parent
        os.close(reader)
        os.write(writer, b"".join(source.take(NONCE_SIZE) for _ in range(8)))
        os._exit(0)
    os.close(writer)
    child = b""
    while chunk := os.read(reader, 1024):
        child += chunk
    os.close(reader)
    os.waitpid(pid, 0)
    parents = [source.take(NONCE_SIZE) for _ in range(8)]
    childs = [child[i : i + NONCE_SIZE] for i in range(0, len(child), NONCE_SIZE)]
    assert len(childs) == 8
    assert not set(childs) & set(parents)


def test_a_refresh_sees_a_key_deleted_by_another_process_within_the_ttl(
    ring: KeyRing, table: FakeKeyTable
) -> None:
    # The compliance reads refresh: a forget committed elsewhere must not be opened by
    # this process's cached key for the rest of its TTL.
    customer, other = uuid4(), uuid4()
    table.add(customer)
    table.add(other)
    assert ring.for_read(customer) is not None
    del table.rows[customer]  # another process forgot the customer
    assert ring.for_read(customer) is not None  # the hot path: cached for the TTL
    ring.refresh({customer, other})
    assert ring.for_read(customer) is None and ring.is_forgotten(customer)
    assert ring.for_read(other) is not None
