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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar
from uuid import UUID

import psycopg

Key = tuple[datetime, UUID]
"""Where a batch ended: its last row's moment and id (the order rows are picked in)."""


class Tally(Protocol):
    """What one batch did: a dataclass of counts (summed by `added`) with `due`, the rows
    it picked, and `last`, where it ended."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def due(self) -> int: ...
    @property
    def last(self) -> Key | None: ...


T = TypeVar("T", bound=Tally)


def drain(
    batch: Callable[[Key | None], T], limit: int, stopping: Callable[[], bool] = lambda: False
) -> T:
    """`batch(after)` until one picks fewer than `limit` rows (or `stopping()`); the sum."""
    total = latest = batch(None)
    while latest.due >= limit and latest.last is not None and not stopping():
        latest = batch(latest.last)
        total = added(total, latest)
    return total


def added(first: T, second: T) -> T:
    """Two batches' tallies as one: every other field summed, `last` the later batch's."""
    return dataclasses.replace(
        first,
        **{
            f.name: (getattr(second, f.name) or getattr(first, f.name))
            if f.name == "last"
            else getattr(first, f.name) + getattr(second, f.name)
            for f in dataclasses.fields(first)
        },
    )


@dataclass(frozen=True)
class DueRows:
    """The two statements a scheduler picks rows with: the first batch, and the next
    one after a key, on one table whose `moment` column says when a row falls due."""

    first: str
    after: str

    @classmethod
    def of(cls, select: str, moment: str, where: str = "") -> DueRows:
        """`select` (``SELECT id, <moment> FROM t``) of the rows due by ``%(now)s``, also
        meeting `where` (``AND …``), oldest first, ``%(limit)s`` at a time."""
        due = f"{select} WHERE {moment} <= %(now)s {where}"
        order = f"ORDER BY {moment}, id LIMIT %(limit)s"
        past = f"AND {moment} >= %(at)s AND ({moment}, id) > (%(at)s, %(id)s::uuid)"
        return cls(f"{due}\n{order}", f"{due}\n{past}\n{order}")

    def pick(
        self, conn: psycopg.Connection[Any], now: datetime, limit: int, after: Key | None
    ) -> list[tuple[Any, ...]]:
        """The next batch: (id, moment, …) rows after `after` (from the start if None)."""
        params: dict[str, Any] = {"now": now, "limit": limit}
        if after is not None:
            params["at"], params["id"] = after
        return conn.execute(self.first if after is None else self.after, params).fetchall()


def after_key(rows: list[tuple[UUID, datetime]]) -> Key | None:
    """The key of the last of `rows` (id, moment), where the next batch starts."""
    return (rows[-1][1], rows[-1][0]) if rows else None
