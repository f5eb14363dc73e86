"""`streams.due_batches.drain`: batch after batch from the last key until one is short."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from streams.due_batches import Key, after_key, drain

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROWS = [(UUID(int=i), T0 + timedelta(seconds=i // 2)) for i in range(7)]


@dataclass(frozen=True)
class Picked:
    ids: tuple[UUID, ...]
    last: Key | None

    @property
    def due(self) -> int:
        return len(self.ids)


def batches_of(limit: int, asked: list[Key | None]) -> Callable[[Key | None], Picked]:
    def batch(after: Key | None) -> Picked:
        asked.append(after)
        rows = [r for r in ROWS if after is None or (r[1], r[0]) > after][:limit]
        return Picked(tuple(r[0] for r in rows), after_key(rows))

    return batch


def test_batches_follow_each_other_until_one_is_short_and_pick_each_row_once() -> None:
    asked: list[Key | None] = []
    done = drain(batches_of(3, asked), 3)
    assert done.ids == tuple(r[0] for r in ROWS)
    assert asked == [None, (ROWS[2][1], ROWS[2][0]), (ROWS[5][1], ROWS[5][0])]
    assert done.last == (ROWS[6][1], ROWS[6][0])


def test_a_short_first_batch_is_the_whole_tick_and_an_exact_fit_asks_once_more() -> None:
    asked: list[Key | None] = []
    assert drain(batches_of(10, asked), 10).due == 7
    assert asked == [None]
    exact: list[Key | None] = []
    assert drain(batches_of(7, exact), 7).due == 7
    assert len(exact) == 2, "a full batch may have more behind it"


def test_stopping_ends_the_tick_after_the_batch_in_hand() -> None:
    asked: list[Key | None] = []
    done = drain(batches_of(2, asked), 2, stopping=lambda: len(asked) >= 2)
    assert done.due == 4 and len(asked) == 2
