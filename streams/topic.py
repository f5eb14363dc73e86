"""Topic administration the streams need (works on Tansu and on any Kafka).

The one `ensure_topic`: the relay, `crm up` (`ops.stack`), benchmarks and tests call it.
The partition count and replication factor are settings (`CRM_KAFKA_PARTITIONS`,
`CRM_KAFKA_REPLICATION_FACTOR`), applied when the topic is created. A live topic with
fewer partitions than the setting is NOT widened here: a customer's key would then hash
to another partition, its next events could be applied before older ones still queued
on the old partition, and the projections' per-customer checkpoints would skip those
older ones as "already applied" (lost). `partition_shortfall` says when that is the case,
so `crm up` can name it (docs/streams.md, "Partitions and replication").
"""

from __future__ import annotations

import contextlib

from streams.kafka_clients import PLAINTEXT, KafkaSecurity, admin_client


def ensure_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    security: KafkaSecurity = PLAINTEXT,
    replication_factor: int = 1,
) -> None:
    """Create the topic if it is missing (idempotent; a no-op on a live cluster)."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = admin_client(bootstrap, security, client_id="crm-admin")
    try:
        if topic in admin.list_topics():
            return
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(
                [NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)]
            )
    finally:
        admin.close()


def partition_count(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> int:
    """How many partitions the live topic has (0 when it does not exist)."""
    admin = admin_client(bootstrap, security, client_id="crm-admin")
    try:
        described = admin.describe_topics([topic])
    finally:
        admin.close()
    return len(described[0].get("partitions") or []) if described else 0


def partition_shortfall(
    bootstrap: str, topic: str, wanted: int, security: KafkaSecurity = PLAINTEXT
) -> str | None:
    """A one-line warning when the live topic has fewer partitions than `wanted`."""
    have = partition_count(bootstrap, topic, security)
    if have and have < wanted:
        return (
            f"topic {topic!r} has {have} partitions, the setting asks for {wanted}: "
            "a live topic is not widened automatically (per-customer order); "
            f"the platform runs on {have}"
        )
    return None
