"""What the broker says of a consumer group on a topic: its committed offsets, and the
topic's end offsets (`streams.topic_follow` asks the first, `streams.stall_watch` both)."""

from __future__ import annotations

from collections.abc import Iterable

from streams.kafka_clients import KafkaSecurity, consumer

OFFSETS_TIMEOUT_MS = 5000  # kafka-python retries a group's offsets forever without one


def group_offsets(
    bootstrap: str,
    group: str,
    topic: str,
    partitions: Iterable[int],
    security: KafkaSecurity,
    *,
    with_ends: bool = False,
) -> tuple[dict[int, int | None], dict[int, int]]:
    """(the group's committed offset per partition, None: nothing yet; the partitions' end
    offsets, or {} unless `with_ends`). Raises kafka-python's errors, a timeout included."""
    from kafka import TopicPartition

    reader = consumer(
        bootstrap,
        security=security,
        group_id=group,
        enable_auto_commit=False,
        client_id="crm-offsets",
    )
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        committed = {
            tp.partition: reader.committed(tp, timeout_ms=OFFSETS_TIMEOUT_MS) for tp in tps
        }
        if not with_ends:
            return committed, {}
        ends = reader.end_offsets(tps, timeout_ms=OFFSETS_TIMEOUT_MS)
        return committed, {tp.partition: int(end) for tp, end in ends.items()}
    finally:
        reader.close()
