"""Small statistics for benchmark runs: medians over repeats, latency percentiles.

Throughput is summarised by the median over repeated runs (robust to one run that
shared the machine with something else); latency by nearest-rank percentiles over all
of a measurement's commands, which is what a caller experiences.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` 0.5 for p50, 0.99 for p99); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Run:
    """One timed run: how many units (commands or events) in how many seconds."""

    units: int
    seconds: float
    latencies: tuple[float, ...] = ()  # seconds per command, when measured

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else 0.0


def summarise(runs: Sequence[Run], unit: str) -> dict[str, object]:
    """The JSON shape of one measurement: median rate, each run, latency percentiles."""
    latencies = [value for run in runs for value in run.latencies]
    summary: dict[str, object] = {
        f"{unit}_per_s": {
            "median": round(statistics.median(r.rate for r in runs), 1) if runs else 0.0,
            "runs": [round(r.rate, 1) for r in runs],
        },
        unit: sum(r.units for r in runs),
        "seconds": round(sum(r.seconds for r in runs), 3),
    }
    if latencies:
        summary["latency_ms"] = {
            "p50": round(percentile(latencies, 0.50) * 1000, 3),
            "p99": round(percentile(latencies, 0.99) * 1000, 3),
            "mean": round(statistics.fmean(latencies) * 1000, 3),
        }
    return summary
