"""Least-squares lines through measured points, to extrapolate a series beyond the
sizes a 2-core machine reaches in the time budget (labelled as extrapolated)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(intercept, slope) of y = a + b·x; a flat line through the mean for one point."""
    n = len(xs)
    if n == 0:
        return 0.0, 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    spread = sum((x - mx) ** 2 for x in xs)
    if spread == 0:
        return my, 0.0
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread
    return my - slope * mx, slope


def extrapolate_linear(xs: Sequence[float], ys: Sequence[float], at: float) -> float:
    a, b = line(xs, ys)
    return a + b * at


def extrapolate_log(xs: Sequence[float], ys: Sequence[float], at: float) -> float:
    """y linear in log10(x): for index-bound latencies that grow with the tree's depth."""
    a, b = line([math.log10(x) for x in xs], ys)
    return a + b * math.log10(at)
