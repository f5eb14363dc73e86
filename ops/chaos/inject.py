"""Poison and forged messages, produced straight onto the topic (not through the relay).

Three kinds, each of which a worker must park (table `crm_parked`, `crm parked list`)
rather than apply or crash on: bytes that are not JSON; a well-formed envelope of an
unknown type at a huge position; and a copy of a real purchase under a new id and
position without the relay's `crm-sig` signature header (a forgery).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

HUGE_POSITION = 10**15


@dataclass(frozen=True)
class Injected:
    kind: str
    topic: str
    partition: int
    offset: int


def _a_real_purchase(bootstrap: str, topic: str) -> dict[str, Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
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


def inject(bootstrap: str, topic: str) -> list[Injected]:
    forged = _a_real_purchase(bootstrap, topic)
    forged.update(id=str(uuid.uuid4()), position=HUGE_POSITION + 1)
    unknown = dict(forged, id=str(uuid.uuid4()), type="crm.chaos.unknown.v1")
    unknown.update(position=HUGE_POSITION)
    messages = [
        ("not-json", b"\x00\xffnot json{", b"chaos-poison"),
        ("unknown-type", json.dumps(unknown).encode(), str(unknown["subject"]).encode()),
        ("unsigned", json.dumps(forged).encode(), str(forged["subject"]).encode()),
    ]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        sent = []
        for kind, value, key in messages:
            meta = producer.send(topic, key=key, value=value).get(timeout=30)
            sent.append(Injected(kind, topic, meta.partition, meta.offset))
        return sent
    finally:
        producer.close()
