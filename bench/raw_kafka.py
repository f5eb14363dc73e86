"""The streams baseline: raw aiokafka moving the very same messages, nothing else.

Produce: `acks=all`, batched like the relay's producer, every send awaited at the end.
Consume: a group-less consumer from the earliest offset until every message arrived.
What our relay and rebuild do beyond this (read the store, build and validate
envelopes, open sealed fields, write read models) is what the ratio prices.
"""

from __future__ import annotations

import asyncio
import time

from bench.stats import Run
from streams.kafka_clients import aio_consumer, aio_producer

Message = tuple[bytes, bytes]


async def _produce(bootstrap: str, topic: str, messages: list[Message]) -> Run:
    producer = aio_producer(
        bootstrap,
        acks="all",
        linger_ms=2,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    try:
        began = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        await asyncio.gather(*futures)
        seconds = time.perf_counter() - began
    finally:
        await producer.stop()
    return Run(len(messages), seconds)


async def _consume(bootstrap: str, topic: str, expected: int) -> Run:
    consumer = aio_consumer(
        bootstrap,
        topic,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        received = 0
        began = time.perf_counter()
        while received < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            received += sum(len(records) for records in batches.values())
            if time.perf_counter() - began > 300:
                raise TimeoutError(f"only {received} of {expected} messages in 300 s")
        seconds = time.perf_counter() - began
    finally:
        await consumer.stop()
    return Run(received, seconds)


def raw_produce(bootstrap: str, topic: str, messages: list[Message]) -> Run:
    return asyncio.run(_produce(bootstrap, topic, messages))


def raw_consume(bootstrap: str, topic: str, expected: int) -> Run:
    return asyncio.run(_consume(bootstrap, topic, expected))
