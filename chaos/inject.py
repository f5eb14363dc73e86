"""Poison and forged messages, produced straight onto the topic (not through the relay).

Four kinds, each of which a worker must park (table `crm_parked`, `crm parked list`)
rather than apply or crash on: bytes that are not JSON; a well-formed envelope of an
unknown type at a huge position, signed with the platform's own key (so it passes the
signature and must be stopped by the schema check); and a copy of a real purchase under a
new id and a huge position, once without the relay's `crm-sig` header and once signed
with another key (forgeries).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition

from streams.kafka_clients import consumer as new_consumer
from streams.kafka_clients import producer as new_producer
from streams.signing import signed_headers, signing_key

HUGE_POSITION = 10**15


@dataclass(frozen=True)
class Injected:
    kind: str
    topic: str
    partition: int
    offset: int


def _a_real_purchase(bootstrap: str, topic: str) -> dict[str, Any]:
    consumer = new_consumer(bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for _ in range(50):
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    envelope = json.loads(record.value)
                    if str(envelope.get("type", "")).startswith("crm.customer.purchase_recorded"):
                        return dict(envelope)
    finally:
        consumer.close()
    raise RuntimeError(f"no purchase on {topic} to forge from")


def inject(bootstrap: str, topic: str, master_key: str) -> list[Injected]:
    """Produce the four messages; `master_key` is the platform's (to sign like the relay)."""
    ours = signing_key(master_key)
    theirs = signing_key(bytes(32))
    forged = _a_real_purchase(bootstrap, topic)
    forged.update(id=str(uuid.uuid4()), position=HUGE_POSITION + 1)
    unknown = dict(forged, id=str(uuid.uuid4()), type="crm.chaos.unknown.v1")
    unknown.update(position=HUGE_POSITION)
    subject = str(forged["subject"]).encode()
    unknown_value = json.dumps(unknown).encode()
    forged_value = json.dumps(forged).encode()
    messages = [
        ("not-json", b"\x00\xffnot json{", b"chaos-poison", None),
        ("unknown-type", unknown_value, subject, signed_headers(ours, subject, unknown_value)),
        ("unsigned", forged_value, subject, None),
        ("bad-signature", forged_value, subject, signed_headers(theirs, subject, forged_value)),
    ]
    producer = new_producer(bootstrap, acks="all")
    try:
        sent = []
        for kind, value, key, headers in messages:
            meta = producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)
            sent.append(Injected(kind, topic, meta.partition, meta.offset))
        return sent
    finally:
        producer.close()
