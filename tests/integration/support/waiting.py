"""Waiting in tests for something another process does, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], object],
    timeout: float = 10.0,
    tick: Callable[[], None] | None = None,
    interval: float = 0.02,
) -> None:
    """Until `condition()` is true (calling `tick()` before each look); fails the test
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout}s")
