"""Time one call that returns how many units (events) it processed."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.stats import Run


def timed(work: Callable[[], int]) -> Run:
    began = time.perf_counter()
    units = work()
    return Run(units, time.perf_counter() - began)
