"""The shape every scenario's result shares, so one report can show them all.

A scenario returns a dict with at least:
- `benchmark`, `size` ("tiny" | "quick" | "full"), `config`, `started_at`, `finished_at`;
- `results`: its own measurements (medians, each run, latency percentiles);
- `summary`: rows for the combined table, each `row(...)` below;
- `targets`: name -> {"target", "measured", "met"} (empty when the issue sets none).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Size = str  # "tiny" (tests), "quick" (a developer's loop), "full" (the measurement)


def now() -> str:
    return datetime.now(UTC).isoformat()


def row(
    measure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    p50_ms: float | None = None,
    p99_ms: float | None = None,
    target: str = "",
    met: bool | None = None,
) -> dict[str, Any]:
    """One line of the summary table; `ratio` is value / baseline when there is one."""
    ratio = round(value / baseline, 2) if baseline else None
    return {
        "measure": measure,
        "value": round(value, 1),
        "unit": unit,
        "baseline": round(baseline, 1) if baseline is not None else None,
        "ratio": ratio,
        "p50_ms": p50_ms,
        "p99_ms": p99_ms,
        "target": target,
        "met": met,
    }


def target(goal: float, measured: float, *, at_most: bool = False) -> dict[str, Any]:
    met = measured <= goal if at_most else measured >= goal
    return {"target": goal, "measured": round(measured, 2), "met": met}


def median_rate(summary: dict[str, Any], unit: str) -> float:
    return float(summary[f"{unit}_per_s"]["median"])
