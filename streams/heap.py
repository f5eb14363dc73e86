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
before, the young ones less often (`YOUNG_THRESHOLD`); the frozen ones are still freed by
reference counting when they die.

`collector_paused()` is for a bounded burst of allocation instead: a rebuild's replay.
`collector_for_bulk()` is for a long one through the command layer: seeding.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_THRESHOLD = 10_000
"""Allocations between two young-generation collections once a process has settled
(CPython's default: 700). A request, a batch or a command allocates thousands of
objects that reference counting frees; collected every 700 allocations, the young ones
still alive were scanned again and again and promoted towards the full collections. In
the gateway: 0.87 against 0.95–1.33 ms of CPU a mutation (`crm bench end-to-end`, 2
alternating runs each); in the bulk path's Python: 60–63 against 68–77 µs an event."""


def settle() -> int:
    """Collect once, freeze what is left, and collect the young generation every
    `YOUNG_THRESHOLD` allocations from now on; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
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
    """`settle` for a bulk load (seeding), in whatever process runs it: the caller's
    thresholds are restored afterwards. A batch's aggregates, events, states and rows are
    nearly all acyclic and freed by reference counting; cycles are still collected."""
    thresholds = gc.get_threshold()
    settle()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
