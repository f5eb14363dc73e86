"""Least-squares lines through measured points, to extrapolate a series beyond the
sizes a 2-core machine reaches in the time budget (labelled as extrapolated)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


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


def squared_error(
    xs: Sequence[float], ys: Sequence[float], predict: Callable[[float], float]
) -> float:
    return sum((predict(x) - y) ** 2 for x, y in zip(xs, ys, strict=True))


def extrapolate_best(xs: Sequence[float], ys: Sequence[float], at: float) -> tuple[float, str]:
    """The better of a line in x and a line in log10(x) through the points (least
    squared error), evaluated at `at`; returns (value, "linear" | "log")."""
    a, b = line(xs, ys)
    la, lb = line([math.log10(x) for x in xs], ys)
    linear = squared_error(xs, ys, lambda x: a + b * x)
    logarithmic = squared_error(xs, ys, lambda x: la + lb * math.log10(x))
    if linear <= logarithmic:
        return a + b * at, "linear"
    return la + lb * math.log10(at), "log"
