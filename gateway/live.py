"""Live events for subscriptions: one Kafka consumer per process, fanned out.

The consumer reads the event topic from its latest offsets, without a consumer group
(every gateway process sees every event), and starts when the first subscriber comes
and stops when the last one leaves. Each subscriber has a bounded queue; one that
cannot keep up is dropped (its subscription ends with an error) rather than slowing
the others or growing memory.

After a widening (`crm topic widen`, `streams.topic_cuts`) events go to another topic:
given `current_topic`, the consumer starts on the topic events go to now, and every
`TOPIC_CHECK_SECONDS` asks again; when it moved, the consumer reads what is left of the
old topic and goes on from the start of the new one, which holds only the events after
the cut, so subscribers see every event in order across it.

Only the relay's messages reach subscribers: given the platform's stream signing key,
each message must carry a good ``crm-sig`` and be a schema-valid envelope
(`streams.intake.screen`, the workers' own check); anything else is skipped and logged,
so a stray or forged message on the topic neither reaches a subscriber nor ends every
live subscription (DESIGN.md: such a message never stops the valid ones around it).

Envelopes arrive with personal fields sealed (``"sealed:…"``); the subscription opens
them with the key ring for roles that may see them and nulls them for the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from streams.envelope import decode
from streams.intake import Rejected, screen
from streams.kafka_clients import PLAINTEXT, KafkaSecurity, aio_consumer
from streams.parking import RawMessage

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
READY_TIMEOUT = 15.0
TOPIC_CHECK_SECONDS = 2.0
CurrentTopic = Callable[[], Awaitable[str]]
"""The topic events go to now (the configured one until a widening cut over)."""


class LiveUnavailable(Exception):
    """The broker cannot be reached, or the subscriber fell too far behind."""


Match = Callable[[dict[str, Any]], bool]


@dataclass(eq=False)
class Subscriber:
    customer_id: UUID | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    dropped: bool = False
    # A further filter (a task reminder's assignee): applied before queueing, so a
    # subscriber waiting for a few envelopes is never dropped for the many it skips.
    match: Match | None = None

    def wants(self, envelope: dict[str, Any]) -> bool:
        if self.customer_id is not None and envelope.get("subject") != str(self.customer_id):
            return False
        return self.match is None or self.match(envelope)


class LiveEvents:
    """Fan-out of the topic's new envelopes to subscribers (see module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        security: KafkaSecurity = PLAINTEXT,
        current_topic: CurrentTopic | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.signing_key = signing_key
        self.security = security
        self.topic = topic
        self.current_topic = current_topic
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._lock = asyncio.Lock()

    @property
    def ready(self) -> bool:
        """True once the consumer sits at the topic's end: later events will arrive."""
        return self._ready is not None and self._ready.is_set() and self._task is not None

    @contextlib.asynccontextmanager
    async def subscribe(
        self, customer_id: UUID | None, match: Match | None = None
    ) -> AsyncIterator[Subscriber]:
        subscriber = Subscriber(customer_id, match=match)
        async with self._lock:
            self.subscribers.add(subscriber)
            if self._task is None or self._task.done():
                self._start()
        try:
            await self._wait_ready()
            yield subscriber
        finally:
            async with self._lock:
                self.subscribers.discard(subscriber)
                if not self.subscribers:
                    await self._stop()

    def _start(self) -> None:
        self._ready = asyncio.Event()
        self._failure = None
        self._task = asyncio.create_task(self._consume(self._ready), name="gateway-live-events")

    async def _wait_ready(self) -> None:
        assert self._ready is not None and self._task is not None
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait(
                {ready, self._task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if not self._ready.is_set():
            raise LiveUnavailable(f"live events unavailable: {self._failure or 'broker timeout'}")

    def _consumer(self, topic: str, offset_reset: str) -> Any:
        return aio_consumer(
            self.bootstrap,
            topic,
            security=self.security,
            group_id=None,
            auto_offset_reset=offset_reset,
            enable_auto_commit=False,
            client_id="crm-gateway-live",
        )

    async def _topic_now(self) -> str:
        """The topic events go to now; the last known one while the database is away."""
        if self.current_topic is None:
            return self.topic
        try:
            return await self.current_topic()
        except Exception as error:  # PostgreSQL restarting: no news about the topic
            log.debug("cannot read the current topic: %s", error)
            return self.topic

    async def _fan_out_batch(self, consumer: Any) -> int:
        batches = await consumer.getmany(timeout_ms=500, max_records=500)
        for records in batches.values():
            for record in records:
                self._fan_out(record.value, record)
        return sum(len(records) for records in batches.values())

    async def _consume(self, ready: asyncio.Event) -> None:
        self.topic = await self._topic_now()
        consumer = self._consumer(self.topic, "latest")
        try:
            await consumer.start()
            await self._seek_to_end(consumer)
            ready.set()
            checked = time.monotonic()
            while True:
                await self._fan_out_batch(consumer)
                if self.current_topic and time.monotonic() - checked >= TOPIC_CHECK_SECONDS:
                    checked = time.monotonic()
                    now = await self._topic_now()
                    if now != self.topic:
                        while await self._fan_out_batch(consumer):
                            pass  # the old topic's last events, before any of the new one's
                        await consumer.stop()
                        self.topic, consumer = now, self._consumer(now, "earliest")
                        await consumer.start()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._failure = error
            log.exception("live events consumer failed")
            for subscriber in list(self.subscribers):
                self._drop(subscriber)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _seek_to_end(self, consumer: Any) -> None:
        """Wait for the partitions, then fix each position at the current end."""
        for _ in range(200):
            assignment = consumer.assignment()
            if assignment:
                for partition in assignment:
                    await consumer.position(partition)
                return
            await asyncio.sleep(0.05)
        raise LiveUnavailable(f"no partitions for topic {self.topic!r}")

    def _envelope(self, value: bytes, record: Any) -> dict[str, Any] | None:
        """The message's envelope; None (logged) for one that is not the relay's."""
        if self.signing_key is None:
            try:
                return decode(value)
            except ValueError:
                log.warning("skipping a message that is not a JSON envelope")
                return None
        message = RawMessage(
            topic=getattr(record, "topic", self.topic),
            partition=getattr(record, "partition", -1),
            offset=getattr(record, "offset", -1),
            key=getattr(record, "key", None),
            value=value,
            headers=tuple(getattr(record, "headers", None) or ()),
        )
        try:
            return screen(message, self.signing_key)
        except Rejected as rejected:
            log.warning("live events: skipping a message: %s", rejected.reason)
            return None

    def _fan_out(self, value: bytes | None, record: Any = None) -> None:
        if value is None:
            return
        envelope = self._envelope(value, record)
        if envelope is None:
            return
        for subscriber in list(self.subscribers):
            if subscriber.dropped or not subscriber.wants(envelope):
                continue
            try:
                subscriber.queue.put_nowait(envelope)
            except asyncio.QueueFull:
                self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        """End a subscription: whatever it has not read yet is discarded, then None."""
        subscriber.dropped = True
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        async with self._lock:
            for subscriber in list(self.subscribers):
                self._drop(subscriber)
            await self._stop()
