"""A batch is acked only once the sink has applied it, even when faust cancels the agent
mid-batch (issue 11, item 4: the analytics sink lost a batch whose offsets were committed
while its part file was still being written)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from streams.processor import apply_before_ack


async def test_a_cancel_mid_batch_waits_for_the_sink_before_the_ack_can_run() -> None:
    release = threading.Event()
    order: list[str] = []

    def slow_sink(envelopes: Sequence[dict[str, Any]]) -> None:
        release.wait(timeout=30)
        order.append(f"sink applied {len(envelopes)}")

    task = asyncio.ensure_future(apply_before_ack(slow_sink, [{"position": 1}]))
    task.add_done_callback(lambda _: order.append("ack may run"))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()  # what faust does to the agent when it stops or restarts it
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert order == ["sink applied 1", "ack may run"]


async def test_an_applied_batch_returns_normally() -> None:
    seen: list[int] = []
    await apply_before_ack(lambda envelopes: seen.append(len(envelopes)), [{}, {}])
    assert seen == [2]
