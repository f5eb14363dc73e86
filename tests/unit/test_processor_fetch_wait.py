"""faust hard-codes a 1.5 s fetch wait; the processor's consumers must ask for 100 ms,
or each event can sit on a quiet partition of the embedded broker for 1.5 s."""

from __future__ import annotations

import aiokafka

from streams.processor import FETCH_MAX_WAIT_MS, prompt_fetches


async def test_consumers_built_like_faust_builds_them_ask_for_a_short_fetch_wait() -> None:
    original = aiokafka.AIOKafkaConsumer
    try:
        prompt_fetches()
        prompt_fetches()  # idempotent: one subclass, not a tower of them
        consumer = aiokafka.AIOKafkaConsumer(
            bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=1500, enable_auto_commit=False
        )
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
        assert aiokafka.AIOKafkaConsumer.__mro__[1] is original
    finally:
        aiokafka.AIOKafkaConsumer = original
