"""Reading the Prometheus text that `/metrics` answers."""

from __future__ import annotations


def gauge(text: str, name: str) -> float:
    """The value of the sample `name` (with or without labels); fails the test if absent."""
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")
