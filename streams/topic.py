"""Topic administration the streams need (works on Tansu and on any Kafka).

The one `ensure_topic`: the relay, `crm up` (`ops.stack`), benchmarks and tests call it.
The partition count and replication factor are settings (`CRM_KAFKA_PARTITIONS`,
`CRM_KAFKA_REPLICATION_FACTOR`), applied when the topic is created. A live topic with
fewer partitions than the setting is NOT given partitions in place: a customer's key
would then hash to another partition, its next events could be applied before older ones
still queued on the old partition, and the projections' per-customer checkpoints would
skip those older ones as "already applied" (lost). `partition_shortfall` says when that
is the case, so `crm up` can name it; `crm topic widen` cuts over to a wider topic
instead (`streams.topic_cuts`; docs/streams.md, "Widening a live topic").
"""

from __future__ import annotations

import contextlib

from streams.kafka_clients import PLAINTEXT, KafkaSecurity, admin_client, consumer

QUIET_POLLS = 2
"""Empty fetches in a row that end `exact_ends`' read of a topic no one writes to."""


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
            f"the platform runs on {have}; `crm topic widen --partitions {wanted}` cuts over "
            "to a wider topic without reordering any customer's events"
        )
    return None


def exact_ends(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> dict[int, int]:
    """The offset after the last record of each partition, read from the records themselves.

    For a topic no one writes to any more (the old topic at a cut). ListOffsets alone is
    not trusted: Tansu 0.6 reports the last *batch's* base offset + 1 (measured: a batch
    of 3 records at offsets 3-5 reported an end of 4, not 6), and a consumer that moved on
    at that end would leave the batch's other records unread behind newer events. So each
    partition is read from one before the reported end until fetches come back empty; on
    a real Kafka that reads one record and confirms the reported end.
    """
    from kafka import TopicPartition
    from kafka.errors import UnknownTopicOrPartitionError

    probe = consumer(
        bootstrap,
        security=security,
        client_id="crm-cut-probe",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or ()]
        if not partitions:  # no ends at all would let every consumer move on at once
            raise UnknownTopicOrPartitionError(f"no partitions known for {topic}")
        ends = {tp.partition: int(end) for tp, end in probe.end_offsets(partitions).items()}
        written = [tp for tp in partitions if ends[tp.partition] > 0]
        if written:
            probe.assign(written)
            for tp in written:
                probe.seek(tp, ends[tp.partition] - 1)
            quiet = 0
            while quiet < QUIET_POLLS:
                fetched = probe.poll(timeout_ms=500)
                quiet = 0 if any(fetched.values()) else quiet + 1
                for tp, records in fetched.items():
                    last = max(record.offset for record in records) + 1
                    ends[tp.partition] = max(ends[tp.partition], last)
    finally:
        probe.close()
    return ends
