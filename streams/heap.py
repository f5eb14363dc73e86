"""Short garbage-collector pauses in the long-running processes (relay, workers, gateway),
and none in a rebuild's replay.

CPython's cyclic collector walks every tracked object of its oldest generation on each
full collection, with the GIL held. What a process loads at start-up never dies, and it
is most of the heap: pypinyin's phrase dictionary alone is ~190,000 lists (imported for
the search keys), then the modules, classes and functions of faust, strawberry and
psycopg. In the projections worker at 1,000 events/s a full collection came every 1.5 to
5 s and took 130 to 180 ms, and every batch in flight waited for it: the largest share
of the lag's p99 (bench/NOTES.md, "Lag: the batch window and one row write").

`settle()` runs once a process has started (its modules imported, its clients built):
a last full collection, then `gc.freeze()`, which moves every surviving object into the
permanent generation the collector never walks. Objects created later are collected as
before; the frozen ones are still freed by reference counting when they die.

`collector_paused()` is for a bounded burst of allocation instead: a rebuild's replay.
`collector_for_bulk()` is for a long one through the command layer: seeding.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

BULK_YOUNG_THRESHOLD = 10_000
"""Allocations between two young-generation collections during a bulk load (default 700)."""


def settle() -> int:
    """Collect once, then freeze what is left; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a replay allocates millions of acyclic
    dicts and lists, and every ~70k allocations the collector walked the whole heap,
    the partition's growing rows included: 20% of a rebuild's CPU, measured (2.97 →
    2.30 s for 50k events). What cycles it leaves wait for the next collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def collector_for_bulk() -> Iterator[None]:
    """A bulk load (seeding) allocates each batch's aggregates, events, states and rows,
    nearly all acyclic and freed by reference counting, while the young generation was
    collected every 700 allocations over them: settling first (`settle`) and collecting
    the young generation every 10,000 allocations took the bulk path's Python from 68–77
    to 60–63 µs an event (3 alternating runs, bench/NOTES.md). Cycles are still collected;
    the thresholds are restored afterwards."""
    young, middle, old = gc.get_threshold()
    settle()
    gc.set_threshold(BULK_YOUNG_THRESHOLD, middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
