"""Waiting in tests for something another process does, with a deadline."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path


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


def wait_for_log(log: Path, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
    """The first match of regex `pattern` in the file `log` past offset `after`, once a
    process has written it; fails the test with the log's tail after `timeout` seconds."""
    found: list[re.Match[str]] = []

    def seen() -> bool:
        match = re.compile(pattern).search(log.read_text(errors="replace"), after)
        found.extend([match] if match else [])
        return match is not None

    try:
        wait_for(seen, timeout, interval=0.2)
    except AssertionError:
        tail = log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{pattern!r} not in {log.name} in {timeout}s:\n{tail}") from None
    return found[0]
