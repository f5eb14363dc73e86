"""Draining what fell due in batches, each picked after the last one's key.

The schedulers (`streams.lifecycle_scheduler`, `streams.task_scheduler`) pick rows whose
moment has passed, the most overdue first, a batch at a time. Waiting a whole interval
after a full batch would let a backlog drain at one batch an interval (500 every 15 s):
after a stop of the platform, or when thousands of customers share one moment (an
import stamped at midnight), the last of them would change minutes late instead of
within 60 s. So a tick takes batch after batch until one comes back short. Each batch
starts after the previous one's last (moment, id): a row handled but not yet
projected is still due in the read model, and must not be picked again in the same
pass (the next tick sees it again, and its command is idempotent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar
from uuid import UUID

Key = tuple[datetime, UUID]
"""Where a batch ended: its last row's moment and id (the order rows are picked in)."""


class Batch(Protocol):
    @property
    def due(self) -> int: ...
    @property
    def last(self) -> Key | None: ...
    def __add__(self: B, other: B) -> B: ...


B = TypeVar("B", bound=Batch)


class Tally(Protocol):
    """A dataclass of counts and a `last` key (what `added` sums)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


T = TypeVar("T", bound=Tally)


def drain(
    batch: Callable[[Key | None], B], limit: int, stopping: Callable[[], bool] = lambda: False
) -> B:
    """`batch(after)` until one picks fewer than `limit` rows (or `stopping()`); the sum."""
    total = latest = batch(None)
    while latest.due >= limit and latest.last is not None and not stopping():
        latest = batch(latest.last)
        total = total + latest
    return total


def added(first: T, second: T) -> T:
    """Two batches' tallies (dataclasses) as one: counts summed, `last` the later batch's."""
    return dataclasses.replace(
        first,
        **{
            f.name: (getattr(second, f.name) or getattr(first, f.name))
            if f.name == "last"
            else getattr(first, f.name) + getattr(second, f.name)
            for f in dataclasses.fields(first)
        },
    )


def after_key(rows: list[tuple[UUID, datetime]]) -> Key | None:
    """The key of the last of `rows` (id, moment), where the next batch starts."""
    return (rows[-1][1], rows[-1][0]) if rows else None
