"""What the broker says of a consumer group on a topic: its committed offsets, and the
topic's end offsets (`streams.topic_follow` asks the first, `streams.stall_watch` both)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from streams.kafka_clients import KafkaSecurity, consumer

if TYPE_CHECKING:
    from kafka import KafkaConsumer

OFFSETS_TIMEOUT_MS = 5000  # kafka-python retries a group's offsets forever without one

Offsets = tuple[dict[int, int | None], dict[int, int]]
"""(the group's committed offset per partition, None: nothing yet; the partitions' end
offsets, or {} when not asked). The ends are the broker's ListOffsets answer: Tansu 0.6
says the last batch's base offset + 1, short of the true end within that batch. Enough to
see a partition left behind; the widening's cut reads exact ends (`streams.topic.exact_ends`)."""


class GroupReader:
    """One group's offsets through one client, kept between reads: the stall watch asks
    every 5 s for the life of a worker, and a client per read cost a connection, a
    metadata request and a coordinator lookup each time. A read that fails closes the
    client (the broker restarting); the next read opens a new one. Not thread-safe: one
    read at a time (the worker's timer awaits each)."""

    def __init__(self, bootstrap: str, group: str, security: KafkaSecurity) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.security = security
        self._client: KafkaConsumer | None = None

    def read(self, topic: str, partitions: Iterable[int], *, with_ends: bool = False) -> Offsets:
        """Raises kafka-python's errors, a timeout included."""
        from kafka import TopicPartition

        if self._client is None:
            self._client = consumer(
                self.bootstrap,
                security=self.security,
                group_id=self.group,
                enable_auto_commit=False,
                client_id="crm-offsets",
            )
        try:
            tps = [TopicPartition(topic, p) for p in partitions]
            committed = {
                tp.partition: self._client.committed(tp, timeout_ms=OFFSETS_TIMEOUT_MS)
                for tp in tps
            }
            if not with_ends:
                return committed, {}
            ends = self._client.end_offsets(tps, timeout_ms=OFFSETS_TIMEOUT_MS)
            return committed, {tp.partition: int(end) for tp, end in ends.items()}
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()


def group_offsets(
    bootstrap: str,
    group: str,
    topic: str,
    partitions: Iterable[int],
    security: KafkaSecurity,
    *,
    with_ends: bool = False,
) -> Offsets:
    """`GroupReader.read` with a client of its own, closed after (for an occasional read)."""
    reader = GroupReader(bootstrap, group, security)
    try:
        return reader.read(topic, partitions, with_ends=with_ends)
    finally:
        reader.close()
