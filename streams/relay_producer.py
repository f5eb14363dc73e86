"""The relay's producer: librdkafka (`confluent-kafka`), batches pipelined, acks counted.

Why librdkafka: kafka-python builds record batches in pure Python, 40% of the relay's
time (bench/NOTES.md); librdkafka builds, compresses and sends them in its own C threads
while the relay reads the next batch from the store. aiokafka is no option for the relay:
its idempotent producer fails on Tansu (docs/architecture.md); librdkafka's works.

`send` hands a whole batch to librdkafka and returns at once; every message's delivery
report counts down its batch. `delivered()` is the position of the last batch that, with
every batch before it, was acknowledged by the broker: the only position the relay may
bookmark. A failed delivery raises `DeliveryFailed` and the pipeline is done: the relay
drops it (with whatever is still in flight) and re-sends from its bookmark with a fresh
producer. So a crash re-sends at most the batches in flight, never skips one.

Settings: idempotent (`enable.idempotence`: no duplicates or reordering from librdkafka's
own retries, which implies `acks=all`), gzip-compressed (the one codec every consumer here
reads without an extra library: kafka-python, aiokafka and faust decode gzip from the
standard library; lz4/zstd would need `lz4` and `cramjam` in every consumer), and
`murmur2_random`: the Java client's and kafka-python's key hash, so a customer keeps the
partition the earlier kafka-python relay gave it (librdkafka's default hash differs).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from streams.kafka_clients import PLAINTEXT, KafkaSecurity, rdkafka_producer
from streams.wire import WireMessage

DELIVERY_TIMEOUT_MS = 4000
"""A send to a dead broker fails within seconds (librdkafka's default waits 300 s), so the
relay notices a broker kill and recovers in place."""

BASE_CONFIG: Mapping[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    # lz4, not gzip: gzip level 1 took ~18 µs of librdkafka's CPU a message, more than
    # the relay's own work, and the relay went from 24,500 to 30,500 messages/s without it.
    "compression.type": "lz4",
    "linger.ms": 2,
    "batch.size": 1024 * 1024,
    "message.max.bytes": 8 * 1024 * 1024,
    "partitioner": "murmur2_random",
    "message.timeout.ms": DELIVERY_TIMEOUT_MS,
    "request.timeout.ms": 3000,
    "client.id": "crm-relay",
    # Connect to every broker at once. With sparse connections (the default) the idempotent
    # producer found no broker up for its producer id when it first looked, and its retry
    # timer (500 ms, twice) held every send of a new producer back ~1 s: at each start,
    # each failover and each recovery from a failed delivery.
    "enable.sparse.connections": False,
}


LIBRDKAFKA_LOG = logging.getLogger("streams.relay_producer.librdkafka")


class DeliveryFailed(Exception):
    """The broker did not acknowledge a message: nothing after the bookmark counts as sent."""


@dataclass
class _Batch:
    last_position: int
    remaining: int
    error: KafkaError | None = None

    def delivered(self, error: KafkaError | None, message: Message) -> None:
        self.remaining -= 1
        if error is not None and self.error is None:
            self.error = error


class ProducerPipeline:
    """One librdkafka producer and the batches it has in flight, oldest first."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        security: KafkaSecurity = PLAINTEXT,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.security = security
        self._fatal: KafkaError | None = None
        config = {**BASE_CONFIG, **(extra or {})}
        config["error_cb"] = self._on_error
        config["logger"] = LIBRDKAFKA_LOG  # not raw lines on stderr
        self.producer = rdkafka_producer(bootstrap, security, config)
        self.in_flight: deque[_Batch] = deque()

    def _on_error(self, error: KafkaError) -> None:
        # Transient errors (a broker connection dropped) are retried by librdkafka and
        # surface as failed deliveries if they last; a fatal one ends this producer.
        if error.fatal():
            self._fatal = error

    def send(self, messages: Sequence[WireMessage], last_position: int) -> None:
        """Queue a batch of messages ending at store position `last_position`."""
        batch = _Batch(last_position, len(messages))
        self.in_flight.append(batch)
        produce, topic, report = self.producer.produce, self.topic, batch.delivered
        for message in messages:
            while True:
                try:
                    produce(topic, message.value, message.key, headers=message.headers,
                            on_delivery=report)  # fmt: skip
                    break
                except BufferError:  # librdkafka's local queue is full: let it drain
                    self.producer.poll(0.05)
        self.producer.poll(0)

    def delivered(self, timeout: float = 0.0) -> int | None:
        """Serve delivery reports (waiting up to `timeout`), then the position of the newest
        batch acknowledged together with all older ones (None when no new batch is)."""
        self.producer.poll(timeout)
        self._raise_if_failed()
        position = None
        while self.in_flight and self.in_flight[0].remaining == 0:
            position = self.in_flight.popleft().last_position
        return position

    def _raise_if_failed(self) -> None:
        if self._fatal is not None:
            raise DeliveryFailed(f"producer failed: {self._fatal.str()}")
        for batch in self.in_flight:
            if batch.error is not None:
                raise DeliveryFailed(f"delivery failed: {batch.error.str()}")

    def close(self, timeout: float = 5.0) -> None:
        """Give up what is still queued (the relay re-sends it from its bookmark)."""
        try:
            self.producer.purge()
            self.producer.flush(timeout)
        except KafkaException:
            pass
        self.in_flight.clear()
